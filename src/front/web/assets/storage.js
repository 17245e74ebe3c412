/**
 * What the page remembers between visits, in localStorage under `parley.*`:
 * the nick, the open conversations with their read positions, the one shown
 * last, and whether notifications are wanted. Never a password. Storage that
 * is unavailable (private mode, full) just forgets.
 *
 * @module
 */

const PREFIX = "parley.";

/**
 * Reads a remembered value (null when none or unreadable).
 * @param {string} key
 * @returns {unknown}
 */
export function get(key) {
  try {
    const raw = localStorage.getItem(PREFIX + key);
    return raw === null ? null : JSON.parse(raw);
  } catch {
    return null;
  }
}

/**
 * Remembers a value (JSON).
 * @param {string} key
 * @param {unknown} value
 */
export function set(key, value) {
  try {
    localStorage.setItem(PREFIX + key, JSON.stringify(value));
  } catch {
    // Storage unavailable: the page works, it just does not remember.
  }
}
