/**
 * Terminal colours (SGR), off when `NO_COLOR` is set or output is not a terminal.
 *
 * @module
 */

/** Wraps text in one style; the identity when colour is off. */
export type Style = (text: string) => string;

/** The styles parley uses. */
export interface Palette {
  readonly enabled: boolean;
  bold: Style;
  dim: Style;
  red: Style;
  green: Style;
  yellow: Style;
  blue: Style;
  magenta: Style;
  cyan: Style;
}

/** Whether to colour output written to `stream`: a terminal, and `NO_COLOR` unset. */
export function colorWanted(stream: { isTerminal(): boolean }): boolean {
  return !Deno.noColor && stream.isTerminal();
}

/** The palette, with every style a no-op when `enabled` is false. */
export function palette(enabled: boolean): Palette {
  const sgr = (open: number, close: number): Style =>
    enabled ? (text) => `\x1b[${open}m${text}\x1b[${close}m` : (text) => text;
  return {
    enabled,
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    red: sgr(31, 39),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
    blue: sgr(34, 39),
    magenta: sgr(35, 39),
    cyan: sgr(36, 39),
  };
}

/** Bright foreground colours that read well on dark and light backgrounds. */
const NICK_COLORS = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96];

/** The same nick always gets the same colour (FNV-1a hash of its lower case). */
export function nickColor(nick: string, enabled: boolean): Style {
  if (!enabled) return (text) => text;
  let hash = 0x811c9dc5;
  for (const char of nick.toLowerCase()) {
    hash = Math.imul(hash ^ char.codePointAt(0)!, 0x01000193) >>> 0;
  }
  const code = NICK_COLORS[hash % NICK_COLORS.length];
  return (text) => `\x1b[${code}m${text}\x1b[39m`;
}
