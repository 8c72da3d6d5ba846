/** Small text helpers of the UI: sizes, percentages, and splitting a command line into words. */
import { formatSize } from '../base/units.js';

/** Bytes as 1.5 GiB, 32 MiB, 512 B; `-` when unknown. */
export function size(bytes: number | null | undefined): string {
  return bytes === null || bytes === undefined ? '-' : formatSize(bytes, ' ');
}

/** A percentage with one decimal, `--` when unknown. */
export function percent(p: number | undefined): string {
  return p === undefined ? '--' : `${p.toFixed(1)}%`;
}

/**
 * Splits a command line as a POSIX shell would split words: single quotes keep everything,
 * double quotes allow \" and \\, a backslash outside quotes escapes the next character.
 * Throws on an unterminated quote.
 */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error('unterminated single quote');
      cur += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) i++;
        cur += line[i++];
      }
      if (i >= line.length) throw new Error('unterminated double quote');
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}
