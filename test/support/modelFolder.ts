/** Test helper: the ONNX file a folder resolved to, asserting that it is an export and not a checkpoint. */
import assert from 'node:assert/strict';
import type { ModelFolder } from '../../src/engine/modelFolder';

export function onnxFile(folder: ModelFolder): string {
  assert.equal(folder.kind, 'onnx', `expected an ONNX export, got a ${folder.kind} folder`);
  return folder.modelPath;
}
