/**
 * Reading a preference file: records with their line numbers (JSONL or a top-level JSON array),
 * format detection, and normalisation to pairs. A bad record is reported with its line and never
 * stops the rest from loading.
 */
import { readFile } from 'node:fs/promises';
import { FORMATS, RecordError, UNPAIRED_FORMATS, formatByName, type PreferenceFormat } from './formats';
import type { Malformed, Pair, Preference } from './pair';

/** The file could not be read as preference data at all (as opposed to a few bad records). */
export class DatasetError extends Error {}

export interface RawRecord {
  line: number;
  text: string;
}

export interface Dataset {
  file: string;
  format: PreferenceFormat;
  pairs: Pair[];
  malformed: Malformed[];
}

export type LabelCounts = Record<'a' | 'b' | 'tie' | 'none', number>;

const DETECTION_SAMPLE = 200;

/** Splits JSONL text into records, skipping blank lines; tolerates CRLF and a missing final newline. */
export function* jsonlRecords(text: string): Generator<RawRecord> {
  let line = 1;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const content = text.slice(start, end).trim();
    if (content) yield { line, text: content };
    line++;
    start = end + 1;
  }
}

/**
 * Splits a top-level JSON array into its elements' source text with the line each starts on, so a
 * bad element is reported where it is, and the others still load.
 */
export function* jsonArrayRecords(text: string): Generator<RawRecord> {
  let line = 1;
  let depth = 0;
  let inString = false;
  let elementStart = -1;
  let elementLine = 0;
  const startElement = (at: number) => {
    if (depth === 1 && elementStart < 0) [elementStart, elementLine] = [at, line];
  };
  const element = (end: number): RawRecord => {
    const record = { line: elementLine, text: text.slice(elementStart, end).trim() };
    elementStart = -1;
    return record;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') line++;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') continue;
    if (depth === 0 && c !== '[') throw new DatasetError(`line ${line}: expected a JSON array or JSON Lines`);
    switch (c) {
      case '"':
        startElement(i);
        inString = true;
        break;
      case '{':
      case '[':
        startElement(i);
        depth++;
        break;
      case '}':
      case ']':
        depth--;
        if (depth === 0) {
          if (elementStart >= 0) yield element(i);
          return;
        }
        break;
      case ',':
        if (depth === 1 && elementStart >= 0) yield element(i);
        break;
      default:
        startElement(i);
    }
  }
  throw new DatasetError('the JSON array is not closed: the file looks truncated');
}

function parseRecord(raw: RawRecord): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw.text);
  } catch (error) {
    throw new RecordError(`invalid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RecordError('a record should be a JSON object');
  }
  return value as Record<string, unknown>;
}

/** Picks the pair format that fits most of the sampled records. */
export function detectFormat(records: Record<string, unknown>[]): PreferenceFormat {
  let best: PreferenceFormat | undefined;
  let bestCount = 0;
  for (const format of FORMATS) {
    const count = records.filter((r) => format.matches(r)).length;
    if (count > bestCount) [best, bestCount] = [format, count];
  }
  for (const unpaired of UNPAIRED_FORMATS) {
    if (records.filter((r) => unpaired.matches(r)).length > bestCount) {
      throw new DatasetError(`this file holds ${unpaired.explanation} (format "${unpaired.name}")`);
    }
  }
  if (!best) {
    const fields = records.length ? Object.keys(records[0]).slice(0, 12).join(', ') : 'none';
    throw new DatasetError(
      `no known preference format fits (first record's fields: ${fields}); ` +
        `see the README for the formats Preference Lens reads`,
    );
  }
  return best;
}

/** Reads records from already-decoded text; `file` names the source in messages. */
export function parseDataset(file: string, text: string, options: { format?: string } = {}): Dataset {
  try {
    return parseText(file, text, options);
  } catch (error) {
    if (error instanceof DatasetError) throw new DatasetError(`${file}: ${error.message}`);
    throw error;
  }
}

function parseText(file: string, text: string, options: { format?: string }): Dataset {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const isArray = text.trimStart().startsWith('[');
  const raws = [...(isArray ? jsonArrayRecords(text) : jsonlRecords(text))];
  const malformed: Malformed[] = [];
  const parsed: { line: number; record: Record<string, unknown> }[] = [];
  for (const raw of raws) {
    try {
      parsed.push({ line: raw.line, record: parseRecord(raw) });
    } catch (error) {
      malformed.push({ line: raw.line, error: (error as Error).message });
    }
  }
  if (parsed.length === 0) {
    throw new DatasetError(raws.length === 0 ? 'the file has no records' : 'no record in the file is valid JSON');
  }
  let format: PreferenceFormat;
  if (options.format) {
    const forced = formatByName(options.format);
    if (!forced) {
      throw new DatasetError(`unknown format "${options.format}"; known: ${FORMATS.map((f) => f.name).join(', ')}`);
    }
    format = forced;
  } else {
    format = detectFormat(parsed.slice(0, DETECTION_SAMPLE).map((p) => p.record));
  }
  const pairs: Pair[] = [];
  for (const { line, record } of parsed) {
    try {
      pairs.push(format.toPair(record, line));
    } catch (error) {
      if (!(error instanceof RecordError)) throw error;
      malformed.push({ line, error: `does not fit ${format.name}: ${error.message}` });
    }
  }
  malformed.sort((x, y) => x.line - y.line);
  return { file, format, pairs, malformed };
}

export async function loadDataset(file: string, options: { format?: string } = {}): Promise<Dataset> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new DatasetError(`${file}: cannot read the file (${(error as Error).message})`);
  }
  return parseDataset(file, bytes.toString('utf8'), options);
}

export function countLabels(pairs: readonly Pair[]): LabelCounts {
  const counts: LabelCounts = { a: 0, b: 0, tie: 0, none: 0 };
  for (const pair of pairs) counts[labelKey(pair.label)]++;
  return counts;
}

const labelKey = (label: Preference): keyof LabelCounts => label ?? 'none';
