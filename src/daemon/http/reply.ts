/** An HTTP answer as the front writes it: status, flat headers (content-length included), body. */
export interface Reply {
  readonly status: number;
  /** Header names and values, flat (`[name, value, name, value, …]`), content-length included. */
  readonly headers: readonly string[];
  readonly body: Buffer | string;
}

/** A reply with `headers` and the body's content-length. */
export function reply(
  status: number,
  headers: Record<string, string>,
  body: Buffer | string,
): Reply {
  const flat: string[] = [];
  for (const [name, value] of Object.entries(headers)) flat.push(name, value);
  flat.push('content-length', String(Buffer.byteLength(body)));
  return { status, headers: flat, body };
}
