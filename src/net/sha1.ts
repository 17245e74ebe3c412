/**
 * SHA-1 (FIPS 180-4), for `Sec-WebSocket-Accept` (./websocket_handshake.ts)
 * and the chat page's ETags (../front/http/asset_module.ts).
 *
 * A small implementation here rather than `node:crypto`: the handshake stays
 * synchronous, and the server does not load Node's crypto module at start (an
 * import at first use would make the handshake asynchronous); WebCrypto's
 * digest is asynchronous too. It hashes 60 bytes once per connection, so its
 * speed does not matter.
 *
 * @module
 */

const sha1Blocks = new Uint8Array(128);
const sha1View = new DataView(sha1Blocks.buffer);
const sha1Words = new Int32Array(80);

/** SHA-1 (FIPS 180-4) of `data`: 20 bytes. For the handshake, not for security. */
export function sha1(data: Uint8Array): Uint8Array {
  const blocks = ((data.length + 8) >>> 6) + 1;
  // A handshake's 60 bytes take two blocks: their scratch is shared (the hash is synchronous).
  const padded = blocks <= 2 ? sha1Blocks.subarray(0, blocks * 64) : new Uint8Array(blocks * 64);
  padded.fill(0);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = blocks <= 2 ? sha1View : new DataView(padded.buffer);
  const bits = data.length * 8;
  view.setUint32(padded.length - 8, Math.floor(bits / 0x100000000));
  view.setUint32(padded.length - 4, bits >>> 0);
  const w = sha1Words;
  let h0 = 0x67452301,
    h1 = 0xefcdab89 | 0,
    h2 = 0x98badcfe | 0,
    h3 = 0x10325476,
    h4 = 0xc3d2e1f0 | 0;
  for (let block = 0; block < padded.length; block += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getInt32(block + i * 4);
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
      w[i] = (x << 1) | (x >>> 31);
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4;
    for (let i = 0; i < 80; i++) {
      let f: number, k: number;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6;
      }
      const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  const digest = new Uint8Array(20);
  const out = new DataView(digest.buffer);
  [h0, h1, h2, h3, h4].forEach((h, i) => out.setInt32(i * 4, h));
  return digest;
}

// ---------------------------------------------------------------------------
// Client → server frames
