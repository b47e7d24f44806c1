/** Small HTTP helpers over fetch: every call returns status, headers and the parsed JSON body. */
export interface Answer<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export async function call<T = any>(base: string, method: string, path: string, body?: unknown,
  headers: Record<string, string> = {}): Promise<Answer<T>> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const response = await fetch(base + path, init);
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    /* keep the text */
  }
  return { status: response.status, headers: response.headers, body: parsed as T };
}

/** A client bound to one server. */
export function client(base: string) {
  return {
    get: <T = any>(path: string, headers?: Record<string, string>) => call<T>(base, 'GET', path, undefined, headers),
    post: <T = any>(path: string, body?: unknown, headers?: Record<string, string>) => call<T>(base, 'POST', path, body, headers),
    patch: <T = any>(path: string, body?: unknown, headers?: Record<string, string>) => call<T>(base, 'PATCH', path, body, headers),
    del: <T = any>(path: string, headers?: Record<string, string>) => call<T>(base, 'DELETE', path, undefined, headers),
  };
}

/** An ISO day `days` from today (UTC). */
export function dayFromToday(days: number): string {
  const date = new Date();
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

/** The same day as DD.MM.YY, the original service's form. */
export function shortForm(isoDay: string): string {
  const [year, month, day] = isoDay.split('-');
  return `${day}.${month}.${year.slice(2)}`;
}
