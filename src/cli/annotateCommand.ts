/**
 * `plens annotate <file> --annotator NAME --import labels.jsonl`: records a batch of labels made
 * elsewhere (another tool, an LLM judge, a colleague's spreadsheet) as one annotator's, in the
 * dataset's annotation log, where they count in the agreement figures like labels made in the
 * editor. Every line is checked first; one bad line and nothing is written.
 */
import { readFile } from 'node:fs/promises';
import { AnnotationLog, pairKeys, sidecarPath, type ReviewLabel } from '../core/annotations';
import { loadDataset } from '../core/dataset';
import { applyEdit, makeEdit } from '../core/reviewEdits';

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
  const indexByLine = new Map(dataset.pairs.map((pair, index) => [pair.line, index]));
  const adjudicating = flags.adjudicate === true;
  // One edit of the whole batch, as the editor makes one of a bulk action: a label already set the
  // same way (an adjudication: the pair's decision, whoever made it) is left out, so `unchanged` counts it.
  const changes = LABELS.flatMap((label) => {
    const targets = [...wanted].filter(([, wish]) => wish.label === label).map(([line]) => ({ index: indexByLine.get(line) as number, key: keyByLine.get(line) as string, line }));
    return makeEdit(log, annotator, targets, { label }, `import ${label}`, { adjudicating })?.changes ?? [];
  });
  if (changes.length > 0) {
    applyEdit(log, { label: `import of ${flags.import}`, by: annotator, changes });
    await log.save(sidecar);
  }
  process.stdout.write(JSON.stringify({ annotator, ...(adjudicating ? { role: 'adjudicator' } : {}), imported: changes.length, unchanged: wanted.size - changes.length, annotations: sidecar }) + '\n');
}
