export interface CorpusCase {
  file: string;
  text: string;
  secrets: { ruleId: string; value: string; line?: number }[];
}
export function rng(seed: number): () => number;
export function buildCorpus(seed?: number, copies?: number): { cases: CorpusCase[]; known: string };
export function score(
  cases: CorpusCase[],
  findings: { file: string; line: number; ruleId: string }[],
  prefix?: string,
): { tp: number; fp: number; fn: number; precision: number; recall: number; missed: string[]; wrong: string[] };
