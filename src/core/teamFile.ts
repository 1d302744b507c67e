/**
 * Reading a dataset's team file from disk (see ./assignment.ts for what it holds and why it is a
 * file): kept apart so the assignment itself needs no Node.
 */
import { readFile } from 'node:fs/promises';
import { parseTeam, type Team } from './assignment';
import { companionPath } from './companionFiles';

/** Where the team of `datasetFile` is described: beside it, or for a Hub cache file in the user data folder. */
export const teamPath = (datasetFile: string) => companionPath(datasetFile, '.plens-team.json');

/** The team of a dataset, from its team file; undefined when there is none. */
export async function readTeam(teamFile: string): Promise<Team | undefined> {
  let text: string;
  try {
    text = await readFile(teamFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return parseTeam(text, teamFile);
}
