/**
 * The REST API of lab2prod's Jupyter server extension (src/lab2prod/lab/handlers.py), and the
 * shapes of what it returns (src/lab2prod/convert/explain.py, src/lab2prod/lab/worker.py).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** A dataset a node reads or writes, or a parameter it takes. */
export interface IPort {
  variable: string;
  dataset: string;
  type: string | null;
}

/** A line of a cell left out of the generated code. */
export interface IDrop {
  cell: number | null;
  code_cell: number;
  line: number;
  text: string;
  reason: string;
}

/** One node of the pipeline a notebook becomes. */
export interface INode {
  name: string;
  heading: string | null;
  /** Positions of the node's cells among all cells of the notebook. */
  cells: number[];
  code_cells: number[];
  inputs: IPort[];
  parameters: IPort[];
  outputs: IPort[];
  copies: string[];
  drops: IDrop[];
}

export interface IDataset {
  name: string;
  role: 'input' | 'parameter' | 'intermediate' | 'result';
  producer: string | null;
  consumers: string[];
  catalog: { [key: string]: unknown } | null;
  new_entry: boolean;
}

export interface IConversionError {
  message: string;
  construct: string;
  cell: number | null;
  code_cell: number | null;
  line: number | null;
}

export interface ILeftOut {
  text: string;
  reason: string;
  cells: number[];
  code_cells: number[];
}

export interface IDeclaredParameter {
  name: string;
  default: string;
  line: number;
}

/** What `kedro notebook convert` would do with the notebook, as the panel shows it. */
export interface IPlan {
  notebook: string;
  pipeline: string;
  project_dir: string | null;
  error: IConversionError | null;
  title?: string | null;
  nodes?: INode[];
  datasets?: IDataset[];
  parameters?: { [name: string]: unknown };
  left_out?: ILeftOut[];
  skipped?: { cell: number; code_cell: number; reason: string }[];
  setup_drops?: IDrop[];
  files?: string[];
  declared_parameters: IDeclaredParameter[];
}

export interface IProblem {
  pipeline: string;
  path: string;
  kind: string;
  detail: string;
}

export type SyncStateName = 'not-converted' | 'in-sync' | 'stale' | 'edited';

export interface ISyncState {
  notebook: string;
  state: SyncStateName;
  pipelines: string[];
  problems: IProblem[];
  project_dir: string | null;
}

export interface IJobEvent {
  event: 'log' | 'stage' | 'progress' | 'result' | 'error';
  text?: string;
  done?: number;
  total?: number;
  message?: string;
  [key: string]: unknown;
}

export interface IComparison {
  node: string | null;
  dataset: string;
  status: 'equal' | 'differs' | 'not comparable';
  detail: string;
}

export interface IJobResult extends IJobEvent {
  ok: boolean;
  pipeline?: string;
  files?: string[];
  comparisons?: IComparison[];
  status?: string;
  error?: string | null;
  records?: { [name: string]: string };
  record_files?: { [name: string]: string };
  html?: string | null;
  executed?: string | null;
  duration?: number;
}

export type JobAction = 'convert' | 'verify' | 'run';

export interface IJob {
  id: string;
  action: JobAction;
  notebook: string;
  state: 'running' | 'succeeded' | 'failed' | 'cancelled';
  events: IJobEvent[];
  next: number;
  result: IJobResult | null;
  error: string | null;
}

/** An error the server answered with: its message is one sentence for a person. */
export class APIError extends Error {}

/** The notebook as the server needs it: cells' types, sources and tags (no outputs). */
export interface INotebookContent {
  nbformat: number;
  nbformat_minor: number;
  metadata: { [key: string]: unknown };
  cells: {
    cell_type: string;
    source: string;
    metadata: { tags?: string[] };
  }[];
}

/** Call a lab2prod route with the Jupyter server's credentials. */
export async function requestAPI<T>(
  endpoint: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, 'lab2prod', endpoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  let data: any = text;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      // not JSON: keep the text for the message
    }
  }
  if (!response.ok) {
    const message =
      (data && typeof data === 'object' && data.message) ||
      `lab2prod: ${endpoint} answered ${response.status} ${response.statusText}`;
    throw new APIError(message);
  }
  return data as T;
}

function post<T>(endpoint: string, body: unknown): Promise<T> {
  return requestAPI<T>(endpoint, { method: 'POST', body: JSON.stringify(body) });
}

export function fetchPlan(
  path: string,
  pipeline: string | null,
  content: INotebookContent
): Promise<IPlan> {
  return post<IPlan>('plan', { path, pipeline, content });
}

export function fetchState(
  path: string,
  content: INotebookContent | null
): Promise<ISyncState> {
  return post<ISyncState>('status', { path, content });
}

export function startJob(body: {
  action: JobAction;
  path: string;
  pipeline?: string;
  force?: boolean;
  parameters?: { [name: string]: string };
}): Promise<IJob> {
  return post<IJob>('jobs', body);
}

export function jobEvents(id: string, since: number): Promise<IJob> {
  return requestAPI<IJob>(`jobs/${id}?since=${since}`);
}

export function cancelJob(id: string): Promise<IJob> {
  return requestAPI<IJob>(`jobs/${id}`, { method: 'DELETE' });
}

/** The URL of a run's HTML report (the browser sends the server's cookie with it). */
export function reportURL(id: string): string {
  return URLExt.join(
    ServerConnection.makeSettings().baseUrl,
    'lab2prod',
    'jobs',
    id,
    'report'
  );
}
