/**
 * The error every model-folder reader throws: it carries the file at fault, so the editor and the
 * CLI can name it (and a settings UI can point at it). Its own module because both the folder
 * readers and the checkpoint builder (./hf) throw it, and neither should import the other for it.
 */
export class ModelFolderError extends Error {
  override name = 'ModelFolderError';
  constructor(
    message: string,
    /** The file (or folder) the problem is about. */
    readonly file: string,
  ) {
    super(message);
  }
}
