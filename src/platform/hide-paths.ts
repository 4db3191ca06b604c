// Hides host file paths in words that may reach a tenant (what qemu-img or an agent said): a
// path tells an attacker the host's layout. The full words stay in logs and admin-only details.

/**
 * `text` with every path in `known` replaced by its label, and any other absolute path by
 * "a file". URL paths of our own APIs never pass through here: only host tools' words do.
 */
export function hidePaths(text: string, known: Readonly<Record<string, string>> = {}): string {
  let out = text;
  for (const [path, label] of Object.entries(known)) out = out.replaceAll(path, label);
  return out.replace(/(?<![\w.:/-])\/(?:[\w.@+=,-]+\/)*[\w.@+=,-]+/g, 'a file');
}
