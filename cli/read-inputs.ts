// Reading the definition files a command was given; a missing path is a usage error.
import { PathNotFoundError, readDefinitionFiles, type SourceFile } from '../schemas/index.js';
import { UsageError } from './output.js';

export async function readInputs(paths: readonly string[], cwd: string): Promise<SourceFile[]> {
  try {
    return await readDefinitionFiles(paths, cwd);
  } catch (error) {
    if (error instanceof PathNotFoundError) throw new UsageError(error.message);
    throw error;
  }
}
