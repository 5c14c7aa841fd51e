// A file whose content is read once and read again when it changes: credentials and certificates
// that are rotated on disk while promfront runs. A change is noticed by comparing the file's
// inode, size and times, checked at most once per `checkEveryMs`, so requests do not each stat it.

import { readFileSync, statSync, type Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { FileProblem } from '../errors.js';

export class WatchedFile {
  private content: string;
  private signature: string;
  private checkedAt: number;
  /** Incremented whenever a changed content was read. */
  generation = 0;

  /** Reads the file now; throws FileProblem when it cannot. */
  constructor(
    readonly path: string,
    /** Config field, e.g. "basic_auth.password_file", used in messages. */
    readonly field: string,
    private readonly checkEveryMs = 1000,
  ) {
    try {
      const st = statSync(path);
      this.content = readFileSync(path, 'utf8');
      this.signature = signature(st);
    } catch (err) {
      throw this.problem(err);
    }
    this.checkedAt = Date.now();
  }

  /** The content now; re-read when the file changed. Throws FileProblem when it became unreadable. */
  async current(): Promise<string> {
    const now = Date.now();
    if (now - this.checkedAt < this.checkEveryMs) return this.content;
    this.checkedAt = now;
    try {
      const sig = signature(await stat(this.path));
      if (sig !== this.signature) {
        this.content = await readFile(this.path, 'utf8');
        this.signature = sig;
        this.generation++;
      }
    } catch (err) {
      this.checkedAt = 0; // look again at the next use
      throw this.problem(err);
    }
    return this.content;
  }

  /** The content last read, without checking the file. */
  get last(): string {
    return this.content;
  }

  private problem(err: unknown): FileProblem {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return new FileProblem(this.field, `cannot read ${this.path}: ${code}`);
  }
}

function signature(st: Stats): string {
  return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}
