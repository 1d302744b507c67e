// The shipped baseline (models/baseline) through the real engine: its config and loaded name say it
// is a baseline, and the held-out accuracy its REPORT.md states comes back from the engine's own
// scores on the held-out pairs that scripts/train-baseline.ts defines.
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BASELINE_DIR, DEFAULT_DATA_DIR, loadPreferencePairs, SOURCES } from '../../scripts/train-baseline';
import { createScorer } from '../../src/engine/createScorer';
import type { ScoreItem, Scorer } from '../../src/engine/scorer';
import { buildWorkerBundle } from '../support/workerBundle';


interface Tally {
  pairs: number;
  points: number;
}

/** The config.json fields this test reads (see main() in scripts/train-baseline.ts). */
interface BaselineConfig {
  _name_or_path: string;
  architectures: string[];
  preference_lens_note: string;
  preference_lens_baseline: { held_out: Tally; held_out_by_source: Record<string, Tally> };
}

const percent = ({ pairs, points }: Tally) => `${((100 * points) / pairs).toFixed(1)}%`;

describe('baseline reward model (models/baseline)', () => {
  let scratch: string;
  let workerPath: string;
  let config: BaselineConfig;
  let reportText: string;
  const scorers: Scorer[] = [];
  const open = () => {
    const scorer = createScorer({ model: BASELINE_DIR, workerPath, device: 'cpu' });
    scorers.push(scorer);
    return scorer;
  };

  before(async () => {
    ({ scratch: scratch, workerPath: workerPath } = await buildWorkerBundle('baseline'));
    config = JSON.parse(await fs.readFile(path.join(BASELINE_DIR, 'config.json'), 'utf8')) as BaselineConfig;
    reportText = await fs.readFile(path.join(BASELINE_DIR, 'REPORT.md'), 'utf8');
  });

  after(async () => {
    await Promise.all(scorers.map((scorer) => scorer.dispose()));
    await fs.rm(scratch, { recursive: true, force: true });
  });

  it('says it is a baseline, with its held-out accuracy, in config.json, REPORT.md and the name the engine shows', async () => {
    const overall = percent(config.preference_lens_baseline.held_out);
    assert.match(config._name_or_path, /^Preference Lens baseline \(linear bag-of-tokens, trained on /);
    assert.ok(config._name_or_path.includes(`held-out accuracy ${overall}`), config._name_or_path);
    assert.deepEqual(config.architectures, ['TokenWeightRewardModel']);
    assert.match(config.preference_lens_note, /^A baseline, not a trained neural reward model/);
    assert.ok(reportText.startsWith(`# ${config._name_or_path}\n`), 'REPORT.md is titled with the model name');
    const info = await open().load();
    assert.equal(info.model, config._name_or_path);
    assert.equal(info.template, 'tulu');
    // Small enough to commit and ship: 32000 float32 weights plus the graph.
    assert.ok((await fs.stat(path.join(BASELINE_DIR, 'model.onnx'))).size < 200_000);
  });

  it(
    'reproduces the held-out accuracy of REPORT.md from the engine’s scores',
    { skip: !existsSync(DEFAULT_DATA_DIR) && `${DEFAULT_DATA_DIR} is absent: the held-out pairs cannot be read` },
    async () => {
      const heldOut = (await loadPreferencePairs(DEFAULT_DATA_DIR)).pairs.filter((pair) => pair.heldOut);
      // Items 2i and 2i+1 are pair i's chosen and rejected responses.
      const items: ScoreItem[] = heldOut.flatMap((pair, i) => [
        { id: 2 * i, prompt: pair.prompt, response: pair.chosen },
        { id: 2 * i + 1, prompt: pair.prompt, response: pair.rejected },
      ]);
      const rewards = new Map<number, number>();
      const stats = await open().score(items, { onResults: (results) => results.forEach((r) => rewards.set(r.id, r.reward)) });
      assert.equal(stats.items, items.length);

      const bySource = new Map(SOURCES.map((source) => [source.name, { pairs: 0, points: 0 }]));
      const overall = { pairs: 0, points: 0 };
      heldOut.forEach((pair, i) => {
        const chosen = rewards.get(2 * i) as number;
        const rejected = rewards.get(2 * i + 1) as number;
        // The same rule as the report: right when the chosen response scores higher, half on an exact tie.
        const point = chosen > rejected ? 1 : chosen === rejected ? 0.5 : 0;
        for (const tally of [bySource.get(pair.source) as Tally, overall]) {
          tally.pairs++;
          tally.points += point;
        }
      });

      // Exact, not approximate: the weights are on a grid where float32 sums are exact (see the report).
      const stated = config.preference_lens_baseline;
      assert.deepEqual({ pairs: overall.pairs, points: overall.points }, { pairs: stated.held_out.pairs, points: stated.held_out.points });
      for (const [source, tally] of bySource) {
        const claimed = stated.held_out_by_source[source];
        assert.deepEqual(tally, { pairs: claimed.pairs, points: claimed.points }, source);
        assert.ok(reportText.includes(`| ${source} | ${tally.pairs} | ${percent(tally)} |`), `REPORT.md row for ${source}`);
      }
      assert.ok(reportText.includes(`| **all held-out pairs** | ${overall.pairs} | ${percent(overall)} |`), 'REPORT.md overall row');
    },
  );
});
