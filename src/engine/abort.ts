/**
 * The error a cancelled score() rejects with. Its own module because both sides need it and the
 * host side must not import the engine (which loads onnxruntime's native binding).
 */
export function abortError(): Error {
  const error = new Error('Scoring was cancelled');
  error.name = 'AbortError';
  return error;
}
