// The few API calls the editor makes, with the session cookie and the CSRF header.
// Errors arrive as RFC 9457 problems; they are thrown as ApiError with the parsed body.

export interface Problem {
  status: number;
  code: string;
  detail: string;
  [extra: string]: unknown;
}

export class ApiError extends Error {
  constructor(public problem: Problem) {
    super(problem.detail);
  }
}

function csrfToken(): string {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export async function call<T>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ data: T; response: Response }> {
  const init: RequestInit = {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json", ...headers },
  };
  if (method !== "GET") {
    (init.headers as Record<string, string>)["X-CSRFToken"] = csrfToken();
  }
  if (body !== undefined) {
    (init.headers as Record<string, string>)["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response: Response;
  try {
    response = await fetch(`/api/v1${path}`, init);
  } catch {
    throw new ApiError({ status: 0, code: "offline", detail: "The server cannot be reached." });
  }
  const text = await response.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // A proxy's HTML error page, say: report the status, never leave the caller hanging.
    throw new ApiError({ status: response.status, code: "http_error",
                         detail: `The server answered ${response.status} ${response.statusText}.` });
  }
  if (!response.ok) {
    throw new ApiError(
      data && typeof data === "object" && "code" in data
        ? (data as Problem)
        : { status: response.status, code: "http_error", detail: response.statusText },
    );
  }
  return { data: data as T, response };
}
