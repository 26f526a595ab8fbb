import { A2A_ERROR_CODE, PushNotificationNotSupportedError, VersionNotSupportedError, toJsonRpcError } from '@a2a-js/sdk/errors';
import { isLegacyJsonRpcMethod, isV1JsonRpcMethod } from '@a2a-js/sdk/compat/v0_3';
import { LegacyJsonRpcTransportHandler } from '@a2a-js/sdk/compat/v0_3/server';
import { JsonRpcTransportHandler, ServerCallContext, type A2ARequestHandler } from '@a2a-js/sdk/server';

export const SUPPORTED_VERSIONS = ['1.0', '0.3'] as const;

export interface JsonRpcResponse {
  jsonrpc: string;
  id: string | number | null;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export interface JsonRpcAnswer {
  method: string | undefined;
  id: JsonRpcResponse['id'];
  answer: JsonRpcResponse | AsyncGenerator<JsonRpcResponse, void, undefined>;
  /** An error thrown while a stream runs, as the JSON-RPC error of the request's protocol version. */
  errorOf(error: unknown): NonNullable<JsonRpcResponse['error']>;
}

const failure = (id: JsonRpcResponse['id'], code: number, message: string): JsonRpcResponse => ({ jsonrpc: '2.0', id, error: { code, message } });

function validId(id: unknown): id is JsonRpcResponse['id'] {
  return id === null || typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id));
}

/**
 * One JSON-RPC request to the SDK's transport handlers: A2A 1.0 method names (SendMessage, ...)
 * to its JSON-RPC handler, the 0.3 names (message/send, ...) to its v0.3 compatibility handler,
 * both over the same request handler. The envelope is checked here first, because the SDK
 * answers a parse error and an invalid envelope with "invalid params" rather than JSON-RPC's
 * -32700 and -32600.
 */
export async function dispatchJsonRpc(body: string, requestedVersion: string | undefined, handler: A2ARequestHandler): Promise<JsonRpcAnswer> {
  const refused = (method: string | undefined, id: JsonRpcResponse['id'], code: number, message: string): JsonRpcAnswer => ({ method, id, answer: failure(id, code, message), errorOf: toJsonRpcError });
  let request: unknown;
  try {
    request = JSON.parse(body);
  } catch (error) {
    return refused(undefined, null, A2A_ERROR_CODE.PARSE_ERROR, `Parse error: ${(error as Error).message}`);
  }
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    return refused(undefined, null, A2A_ERROR_CODE.INVALID_REQUEST, 'Invalid Request: one JSON-RPC request object is taken (no batches)');
  }
  const { jsonrpc, method, id = null } = request as Record<string, unknown>;
  if (!validId(id)) return refused(undefined, null, A2A_ERROR_CODE.INVALID_REQUEST, 'Invalid Request: id must be a string, an integer or null');
  if (jsonrpc !== '2.0' || typeof method !== 'string' || method === '') {
    return refused(undefined, id, A2A_ERROR_CODE.INVALID_REQUEST, 'Invalid Request: jsonrpc must be "2.0" and method a non-empty string');
  }
  if (requestedVersion !== undefined && !(SUPPORTED_VERSIONS as readonly string[]).includes(requestedVersion)) {
    const error = new VersionNotSupportedError(`A2A-Version '${requestedVersion}' is not supported: ${SUPPORTED_VERSIONS.join(', ')} are`);
    return { method, id, answer: { jsonrpc: '2.0', id, error: toJsonRpcError(error) }, errorOf: toJsonRpcError };
  }
  const legacy = isLegacyJsonRpcMethod(method);
  // Said here: the SDK checks the params before the method, so an unknown method without params was "invalid params".
  if (!legacy && !isV1JsonRpcMethod(method)) {
    return refused(method, id, A2A_ERROR_CODE.METHOD_NOT_FOUND, `Method not found: '${method.slice(0, 100)}' (A2A 1.0 names such as SendMessage or GetTask, or the 0.3 names such as message/send)`);
  }
  const { params } = request as Record<string, unknown>;
  if (!legacy && method !== 'GetExtendedAgentCard' && (typeof params !== 'object' || params === null || Array.isArray(params))) {
    return refused(method, id, A2A_ERROR_CODE.INVALID_PARAMS, `Invalid params: ${method} takes params, an object`);
  }
  // The mesh has no push notifications; the SDK's 0.3 handler reads these methods' params before it asks (a malformed one threw).
  if (legacy && method.startsWith('tasks/pushNotificationConfig/')) {
    return { method, id, answer: { jsonrpc: '2.0', id, error: LegacyJsonRpcTransportHandler.mapToLegacyJSONRPCError(new PushNotificationNotSupportedError()) }, errorOf: LegacyJsonRpcTransportHandler.mapToLegacyJSONRPCError };
  }
  const context = new ServerCallContext({ requestedVersion: requestedVersion ?? (legacy ? '0.3' : '1.0') });
  const transport = legacy ? new LegacyJsonRpcTransportHandler(handler) : new JsonRpcTransportHandler(handler);
  const answer = (await transport.handle(request as Record<string, unknown>, context)) as JsonRpcAnswer['answer'];
  return { method, id, answer, errorOf: legacy ? LegacyJsonRpcTransportHandler.mapToLegacyJSONRPCError : toJsonRpcError };
}
