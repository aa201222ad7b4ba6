import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** The REST namespace of the server extension. */
export const API_NAMESPACE = 'deardiary';

/** What to tell a user whose server lacks the server extension. */
export const INSTALL_HINT =
  'The jupyterlab_deardiary server extension is missing or not enabled: run ' +
  '`pip install jupyterlab_deardiary` in the environment that runs Jupyter, then restart it.';

/**
 * An error answered by (or on the way to) the server extension.
 * `code` mirrors the `error` field of the JSON body (for example `empty_repository`).
 */
export class ServerError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly body: Record<string, unknown> = {}
  ) {
    super(message);
    this.name = 'ServerError';
  }
}

/** A raw response, for endpoints that answer bytes. */
export interface IRawResponse {
  status: number;
  headers: Headers;
  body: ArrayBuffer;
}

/**
 * Call an endpoint of the server extension and return its raw response.
 * Throws ServerError for network failures and for any status in `failOn`.
 */
export async function requestRaw(
  endpoint: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<IRawResponse> {
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endpoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerError(
      `Cannot reach the Jupyter server: ${(error as Error).message}`,
      0,
      'network'
    );
  }
  const body = await response.arrayBuffer();
  return { status: response.status, headers: response.headers, body };
}

/** Parse a JSON body, or describe what came instead. */
export function parseJSON(raw: IRawResponse): Record<string, unknown> {
  const text = new TextDecoder().decode(raw.body);
  try {
    const value = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {
    // fall through
  }
  throw new ServerError(
    `Unexpected answer from the server (HTTP ${raw.status}): ${text.slice(0, 200)}`,
    raw.status,
    'bad_response'
  );
}

/** Turn a non-2xx answer into a ServerError with the server's own message. */
export function toError(raw: IRawResponse): ServerError {
  if (raw.status === 404 && !looksLikeOurs(raw)) {
    return new ServerError(INSTALL_HINT, 404, 'not_installed');
  }
  let body: Record<string, unknown> = {};
  try {
    body = parseJSON(raw);
  } catch {
    // keep the empty body
  }
  const message =
    typeof body.message === 'string'
      ? body.message
      : `The server answered HTTP ${raw.status}`;
  const code =
    typeof body.error === 'string' ? body.error : `http_${raw.status}`;
  return new ServerError(message, raw.status, code, body);
}

/** Our handlers always answer JSON with an `error` code; Tornado's own 404 does not. */
function looksLikeOurs(raw: IRawResponse): boolean {
  try {
    return typeof parseJSON(raw).error === 'string';
  } catch {
    return false;
  }
}

/** Call a JSON endpoint; resolve with the parsed body of a 2xx answer. */
export async function requestJSON<T>(
  endpoint: string,
  init: RequestInit = {},
  settings?: ServerConnection.ISettings
): Promise<T> {
  const raw = await requestRaw(endpoint, init, settings);
  if (raw.status < 200 || raw.status >= 300) {
    throw toError(raw);
  }
  return parseJSON(raw) as T;
}
