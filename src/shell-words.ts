/**
 * Words for a POSIX command line that is split again by its reader: a shell (`sh -c`, as the
 * JS and Java SDKs run `credential_process`, and as a user pastes a `curl` line) or Python's
 * `shlex.split` (botocore, hence the AWS CLI). Both read `'…'` as literal text and `\'` outside
 * quotes as one `'`, so one quoting serves every reader.
 */

/** Characters that need no quoting for a shell or `shlex.split`. */
const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** `word` single-quoted, each `'` in it as `'\''`. */
export function singleQuoted(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** `word` as one word: unchanged when plain, else single-quoted. */
export function shellWord(word: string): string {
  return PLAIN.test(word) ? word : singleQuoted(word);
}

/** `words` as one command line. */
export function shellCommand(words: readonly string[]): string {
  return words.map(shellWord).join(' ');
}
