// Sections of docs/benchmarks.md that one benchmark owns, between `<!-- NAME:begin -->` and `<!-- NAME:end -->`.
import { readFile, writeFile } from 'node:fs/promises';

const marks = (name) => ({ begin: `<!-- ${name}:begin -->`, end: `<!-- ${name}:end -->` });

/** Replaces the section `name` of the file `out` (appends it when missing). */
export async function writeSection(out, name, section) {
  const { begin, end } = marks(name);
  const current = await readFile(out, 'utf8').catch(() => '');
  const from = current.indexOf(begin);
  const to = current.indexOf(end);
  const block = `${begin}\n${section.trimEnd()}\n${end}`;
  await writeFile(out, from >= 0 && to > from ? `${current.slice(0, from)}${block}${current.slice(to + end.length)}` : `${current.trimEnd()}\n\n${block}\n`);
}

/** Every marked section of `text` (`<!-- x:begin -->` ... `<!-- x:end -->`), in order, as written. */
export function markedSections(text) {
  return [...text.matchAll(/<!-- ([\w-]+):begin -->[\s\S]*?<!-- \1:end -->/g)].map((m) => m[0]);
}
