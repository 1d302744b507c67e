/**
 * `plens export`: the dataset with the reviewer's corrections applied, written to a new file in its
 * own format or TRL's, or into the dataset itself with --in-place. The report goes to stdout as one
 * JSON line, like every plens command's.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AnnotationLog, PairKeyer, sidecarPath } from '../core/annotations';
import { DatasetStream, detectStreamFormat } from '../core/dataset';
import { DROP_RULES, EXPORT_TARGETS, ExportError, applyInPlace, exportDataset, suggestedOut, type DropRule } from '../core/export';
import type { PairScore } from '../core/verdict';
import { RESOLVE_POLICIES, type ResolvePolicy } from '../core/labelResolution';
import { checkOutPath } from './outPath';
import { matchScores, readScoreFile } from './scoreFile';

/** The parseArgs options `plens export` adds to those other commands share (--out, --annotations, --scores, --format). */
export const EXPORT_OPTIONS = {
  to: { type: 'string' },
  drop: { type: 'string', multiple: true },
  'in-place': { type: 'boolean' },
  resolve: { type: 'string' },
} as const;

export const EXPORT_USAGE = `  plens export <file> --out <file> [--to same|trl-conversational|trl-standard] [--annotations <file>]
                      [--drop flagged|both-bad|unreviewed-disagreements]... [--scores <file>] [--format <name>]
                      [--resolve adjudicated|majority|file]
  plens export <file> --in-place [--annotations <file>] [--format <name>] [--resolve adjudicated|majority|file]
  (--resolve: a team's label for each pair — the adjudicator's decision, else the annotators' majority,
   else the file's; majority skips adjudications, file ignores annotators; a tie falls through)`;

export interface ExportFlags {
  annotations?: string;
  to?: string;
  out?: string;
  drop?: string[];
  scores?: string;
  'in-place'?: boolean;
  format?: string;
  resolve?: string;
}

export async function exportCommand(file: string, values: ExportFlags): Promise<void> {
  const annotationsFile = values.annotations ?? sidecarPath(file);
  // A sidecar named on the command line must exist: a typo would otherwise export no corrections.
  if (values.annotations !== undefined && !existsSync(annotationsFile)) throw new ExportError(`--annotations: ${annotationsFile} does not exist`);
  // Said once the flags are known to be good: a refused command should print only why.
  const noteMissingAnnotations = () => {
    if (!existsSync(annotationsFile)) process.stderr.write(`plens: no annotations (${annotationsFile}); the file's own labels are used\n`);
  };
  const annotations = await AnnotationLog.load(annotationsFile);
  const resolve = values.resolve ?? 'adjudicated';
  if (!isOneOf(RESOLVE_POLICIES, resolve)) throw new ExportError(`--resolve should be one of ${RESOLVE_POLICIES.join(', ')}, got "${resolve}"`);

  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    if (values['in-place']) {
      const conflicting = (['to', 'out', 'drop', 'scores'] as const).filter((flag) => values[flag] !== undefined);
      if (conflicting.length) {
        throw new ExportError(`--in-place only writes labels into the dataset; it takes no ${conflicting.map((f) => `--${f}`).join(', ')}`);
      }
      const report = await applyInPlace(file, annotations, { by: userName(), format: values.format, signal: controller.signal, resolve });
      // The dataset is rewritten first: a failure here leaves keys to move, never labels unwritten.
      if (annotations.hasPendingChanges) await annotations.save(annotationsFile);
      noteMissingAnnotations();
      process.stdout.write(JSON.stringify({ file, ...report }) + '\n');
      return;
    }
    if (!values.out) throw new ExportError('export needs --out <file> (or --in-place)');
    const to = values.to ?? 'same';
    if (!isOneOf(EXPORT_TARGETS, to)) throw new ExportError(`--to should be one of ${EXPORT_TARGETS.join(', ')}, got "${to}"`);
    checkOutPath(values.out, { example: path.basename(suggestedOut(file, to)) });
    const drop = dropRules(values.drop ?? []);
    if (drop.includes('unreviewed-disagreements') && values.scores === undefined) {
      throw new ExportError('--drop unreviewed-disagreements needs the reward model\'s scores: add --scores <file> (what `plens score --out <file>` wrote)');
    }
    const scores = values.scores === undefined ? undefined : await scoresByLine(file, values.scores, values.format);
    noteMissingAnnotations();
    const report = await exportDataset(file, values.out, {
      to,
      drop,
      annotations,
      resolve: resolve as ResolvePolicy,
      scoreOf: scores && ((_, pair) => scores.get(pair.line)),
      format: values.format,
      signal: controller.signal,
    });
    process.stdout.write(JSON.stringify({ file, out: values.out, to, ...report }) + '\n');
  } finally {
    process.off('SIGINT', onSigint);
  }
}

const isOneOf = <T extends string>(list: readonly T[], value: string): value is T => (list as readonly string[]).includes(value);

/** `--drop` is repeatable and also takes comma-separated rules. */
function dropRules(flags: readonly string[]): DropRule[] {
  return flags
    .flatMap((flag) => flag.split(','))
    .map((rule) => {
      const trimmed = rule.trim();
      if (!isOneOf(DROP_RULES, trimmed)) throw new ExportError(`--drop should be one of ${DROP_RULES.join(', ')}, got "${trimmed}"`);
      return trimmed;
    });
}

/** Who applies the labels, for the annotation log; the system user name, as the editor's last resort. */
function userName(): string {
  try {
    return os.userInfo().username;
  } catch {
    // No passwd entry (some containers).
    return process.env.USER ?? 'unknown';
  }
}

/**
 * The scores of `file`'s pairs by their line, from a `plens score` output checked to belong to the
 * file (see ./scoreFile): one pass over the file for the pairs' content keys, in bounded memory.
 */
async function scoresByLine(file: string, scoresFile: string, format: string | undefined): Promise<Map<number, PairScore>> {
  const scores = await readScoreFile(scoresFile);
  // Front to back, as the export itself reads (a gzip-compressed file too): each pair's line and content key.
  const lines: number[] = [];
  const keys: string[] = [];
  const keyer = new PairKeyer();
  for await (const entry of new DatasetStream(file, await detectStreamFormat(file, { format }))) {
    if (!('pair' in entry)) continue;
    lines.push(entry.pair.line);
    keys.push(keyer.next(entry.pair));
  }
  const byIndex = matchScores(scores, file, { count: lines.length, line: (i) => lines[i], keys }, (message) => process.stderr.write(`plens: ${message}\n`));
  return new Map([...byIndex].map(([i, score]) => [lines[i], score]));
}
