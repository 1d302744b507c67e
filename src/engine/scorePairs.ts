/**
 * Pairs to a scorer and back: both responses of each pair go out as two items, and a pair is
 * reported once both of its rewards are in. The bridge between the dataset model (core) and the
 * engine, so it lives on the engine's side.
 */
import type { Pair } from '../core/pair';
import type { PairScore } from '../core/verdict';
import type { ScoreNotice, Scorer, ScoreStats } from './scorer';

/**
 * Scores both responses of every pair, reporting each pair as soon as both of its rewards are in.
 * Pair `i`'s responses are scored as items `2i` (a) and `2i + 1` (b).
 */
export async function scorePairs(
  pairs: readonly Pair[],
  indices: readonly number[],
  scorer: Scorer,
  options: {
    signal?: AbortSignal;
    onPair: (index: number, score: PairScore) => void;
    onProgress?: (done: number, total: number) => void;
    /** Things the user should know while scoring goes on, e.g. the worker crashed and restarted. */
    onNotice?: (notice: ScoreNotice) => void;
  },
): Promise<ScoreStats> {
  const items = indices.flatMap((index) => [
    { id: 2 * index, prompt: pairs[index].prompt, response: pairs[index].a },
    { id: 2 * index + 1, prompt: pairs[index].prompt, response: pairs[index].b },
  ]);
  const halves = new Map<number, number>();
  return scorer.score(items, {
    signal: options.signal,
    onProgress: options.onProgress,
    onNotice: options.onNotice,
    onResults: (results) => {
      for (const { id, reward } of results) {
        const index = Math.floor(id / 2);
        const sibling = id % 2 === 0 ? id + 1 : id - 1;
        const other = halves.get(sibling);
        if (other === undefined) {
          halves.set(id, reward);
          continue;
        }
        halves.delete(sibling);
        options.onPair(index, id % 2 === 0 ? { rewardA: reward, rewardB: other } : { rewardA: other, rewardB: reward });
      }
    },
  });
}
