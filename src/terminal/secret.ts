/**
 * Commands that carry a password (`/register`, `/identify`, `/oper`,
 * `/password`, `/setpassword`): the terminal shows their arguments as `*`
 * and keeps them out of the ↑ history (SPEC §10).
 *
 * @module
 */

/** The command word of a line whose arguments are secret, with the space after it. */
const SECRET_COMMAND = /^\/(register|identify|oper|password|setpassword)(\s|$)/i;

/** True when `line` carries a password. */
export function isSecret(line: string): boolean {
  return SECRET_COMMAND.test(line);
}

/** The clusters as shown: those after a secret command's word are `*` (spaces stay). */
export function masked(clusters: readonly string[]): readonly string[] {
  const text = clusters.join("");
  const command = SECRET_COMMAND.exec(text);
  if (command === null) return clusters;
  // The command word is ASCII: one cluster per character.
  const shown = command[0].trimEnd().length;
  return clusters.map((cluster, i) => i < shown || /^\s+$/u.test(cluster) ? cluster : "*");
}
