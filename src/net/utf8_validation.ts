/**
 * UTF-8 validation that can stop and go on (RFC 3629), for WebSocket text
 * messages that arrive in pieces.
 *
 * @module
 */

/**
 * Checks `bytes[start, end)` as UTF-8 (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), continuing from `state`, the value
 * returned for the bytes before: 0 between characters, 1–7 inside one
 * (how many continuation bytes are due and what range the next may take),
 * -1 at the first invalid byte. A text is valid when the state after its
 * last byte is 0.
 */
export function validateUtf8(bytes: Uint8Array, start: number, end: number, state: number): number {
  let i = start;
  while (i < end) {
    if (state === 0) {
      // ASCII runs are the common case.
      while (i < end && bytes[i] < 0x80) i++;
      if (i === end) return 0;
      const b = bytes[i++];
      if (b < 0xc2) return -1;
      else if (b < 0xe0) state = 1;
      else if (b < 0xf0) state = b === 0xe0 ? 4 : b === 0xed ? 5 : 2;
      else if (b < 0xf5) state = b === 0xf0 ? 6 : b === 0xf4 ? 7 : 3;
      else return -1;
    } else {
      const b = bytes[i++];
      switch (state) {
        case 1:
        case 2:
        case 3:
          if (b < 0x80 || b > 0xbf) return -1;
          state--;
          break;
        case 4: // after E0: no overlong 3-byte forms
          if (b < 0xa0 || b > 0xbf) return -1;
          state = 1;
          break;
        case 5: // after ED: no surrogates
          if (b < 0x80 || b > 0x9f) return -1;
          state = 1;
          break;
        case 6: // after F0: no overlong 4-byte forms
          if (b < 0x90 || b > 0xbf) return -1;
          state = 2;
          break;
        default: // 7, after F4: nothing above U+10FFFF
          if (b < 0x80 || b > 0x8f) return -1;
          state = 2;
      }
    }
  }
  return state;
}

// ---------------------------------------------------------------------------
// Server → client frames
