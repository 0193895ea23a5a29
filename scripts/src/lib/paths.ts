// The repository's root, for the programs that read or write under it (models/, report/, runs/, edge/).
import { resolve } from 'node:path';

export const ROOT_DIR = resolve(import.meta.dirname, '../../..');
