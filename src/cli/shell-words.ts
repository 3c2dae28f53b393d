/**
 * Words for a POSIX command line that is split again by its reader: a shell (`sh -c`, as the
 * JS and Java SDKs run `credential_process`, and as a user pastes a `curl` line) or Python's
 * `shlex.split` (botocore, hence the AWS CLI). Both read `'…'` as literal text and `\'` outside
 * quotes as one `'`, so one quoting serves every reader.
 */

/** Characters that need no quoting for a shell or `shlex.split`. */
const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** `word` as one word: unchanged when plain, else single-quoted with each `'` as `'\''`. */
export function shellWord(word: string): string {
  if (PLAIN.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** `words` as one command line. */
export function shellCommand(words: readonly string[]): string {
  return words.map(shellWord).join(' ');
}
