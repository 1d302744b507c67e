/**
 * `plens annotate <file> --annotator NAME --import labels.jsonl`: records a batch of labels made
 * elsewhere (another tool, an LLM judge, a colleague's spreadsheet) as one annotator's, in the
 * dataset's annotation log, where they count in the agreement figures like labels made in the
 * editor. Every line is checked first; one bad line and nothing is written.
 */
import { readFile } from 'node:fs/promises';
import { AnnotationLog, pairKeys, sidecarPath, type ReviewLabel } from '../core/annotations';
import { loadDataset } from '../core/dataset';

export const ANNOTATE_USAGE = `  plens annotate <file> --annotator <name> --import <labels.jsonl> [--adjudicate] [--annotations <file>] [--format <name>]
      labels.jsonl: one {"line": <record line>, "label": "a" | "b" | "tie" | "both-bad"} per line
      --adjudicate: the labels are <name>'s decisions as adjudicator, not their own labels`;

const LABELS: readonly ReviewLabel[] = ['a', 'b', 'tie', 'both-bad'];
/** Errors listed before giving up: enough to see a pattern, not a wall of text. */
const SHOWN_ERRORS = 20;

export interface AnnotateFlags {
  annotator?: string;
  import?: string;
  adjudicate?: boolean;
  annotations?: string;
  format?: string;
}

export async function annotateCommand(file: string, flags: AnnotateFlags): Promise<void> {
  const annotator = flags.annotator?.trim();
  if (!annotator) throw new Error('annotate: --annotator <name> is required: whose labels these are');
  if (!flags.import) throw new Error('annotate: --import <labels.jsonl> is required');
  const dataset = await loadDataset(file, { format: flags.format });
  const keys = pairKeys(dataset.pairs);
  const keyByLine = new Map(dataset.pairs.map((pair, i) => [pair.line, keys[i]]));

  const errors: string[] = [];
  const wanted = new Map<number, { label: ReviewLabel; where: string }>();
  (await readFile(flags.import, 'utf8')).split('\n').forEach((text, i) => {
    if (!text.trim()) return;
    const where = `${flags.import}:${i + 1}`;
    let row: { line?: unknown; label?: unknown };
    try {
      row = JSON.parse(text);
    } catch (error) {
      errors.push(`${where}: not JSON (${(error as Error).message})`);
      return;
    }
    if (typeof row !== 'object' || row === null || typeof row.line !== 'number' || !Number.isInteger(row.line)) {
      errors.push(`${where}: needs a numeric "line" (the record's line in ${file})`);
      return;
    }
    if (!LABELS.includes(row.label as ReviewLabel)) {
      errors.push(`${where}: label ${JSON.stringify(row.label)} is not one of ${LABELS.join(', ')}`);
      return;
    }
    if (!keyByLine.has(row.line)) {
      errors.push(`${where}: ${file} has no pair on line ${row.line}`);
      return;
    }
    const earlier = wanted.get(row.line);
    if (earlier && earlier.label !== row.label) {
      errors.push(`${where}: line ${row.line} is labelled ${earlier.label} already (${earlier.where})`);
      return;
    }
    wanted.set(row.line, { label: row.label as ReviewLabel, where });
  });
  if (errors.length > 0) {
    const more = errors.length > SHOWN_ERRORS ? `\n… and ${errors.length - SHOWN_ERRORS} more` : '';
    throw new Error(`${errors.length} line(s) of ${flags.import} cannot be imported; nothing was written:\n${errors.slice(0, SHOWN_ERRORS).join('\n')}${more}`);
  }

  const sidecar = flags.annotations ?? sidecarPath(file);
  const log = await AnnotationLog.load(sidecar);
  const current = log.labelsByAnnotator();
  const at = new Date().toISOString();
  let imported = 0;
  let unchanged = 0;
  for (const [line, { label }] of wanted) {
    const key = keyByLine.get(line) as string;
    // An adjudication replaces the pair's decision, whoever made it; a label replaces only the annotator's own.
    const from = (flags.adjudicate ? log.adjudicationOf(key)?.label : current.get(key)?.get(annotator)) ?? null;
    if (from === label) {
      unchanged++;
      continue;
    }
    log.record({ key, line, field: 'label', from, to: label, by: annotator, at, ...(flags.adjudicate ? { role: 'adjudicator' as const } : {}) });
    imported++;
  }
  if (imported > 0) await log.save(sidecar);
  process.stdout.write(JSON.stringify({ annotator, ...(flags.adjudicate ? { role: 'adjudicator' } : {}), imported, unchanged, annotations: sidecar }) + '\n');
}
