import http from 'node:http';

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
    init.body = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
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

/**
 * One request on a connection of its own (no keep-alive agent), so that the kernel spreads such
 * requests over all the workers listening on the port.
 */
export function onNewConnection(address: string, port: number, method: string, path: string, body?: unknown,
  headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = http.request({
      host: address, port, method, path, agent: false,
      headers: payload === undefined ? headers : { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        // Thrown here, in an event handler, a body that is not JSON would be an uncaught exception
        // that ends the test run rather than a failure of the test that asked.
        try {
          resolve({ status: response.statusCode!, body: text === '' ? undefined : JSON.parse(text) });
        } catch {
          reject(new Error(`${method} ${path}: ${response.statusCode} with a body that is not JSON: ${text.slice(0, 200)}`));
        }
      });
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(payload);
  });
}
