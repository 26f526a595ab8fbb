import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AgentCard, Task, TaskState, formatSSEEvent } from '@a2a-js/sdk';
import {
  AgentEvent,
  DefaultRequestHandler,
  InMemoryTaskStore,
  JsonRpcTransportHandler,
  ServerCallContext,
  type AgentExecutor,
  type ExecutionEventBus,
  type RequestContext,
} from '@a2a-js/sdk/server';

/** What the remote agent does with one message: from its (data) input, by the test's rules. */
export type Behaviour = (input: any, seen: { attemptsOfTask: number }) => Promise<{ state: TaskState; output?: unknown; text?: string }>;

/**
 * A real A2A server made of the official SDK's server parts (DefaultRequestHandler,
 * InMemoryTaskStore, JsonRpcTransportHandler) behind node:http, as an agent elsewhere would be.
 */
export class RemoteA2AServer {
  readonly received: Array<{ messageId: string; skill: unknown; input: unknown }> = [];
  running = 0;
  maxRunning = 0;
  private server: Server | undefined;
  port = 0;

  constructor(private readonly behaviour: Behaviour) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<void> {
    const card = (): AgentCard =>
      AgentCard.fromJSON({
        name: 'remote translator',
        description: 'An A2A agent outside the mesh',
        version: '1.0.0',
        supportedInterfaces: [{ url: `${this.url}/a2a`, protocolBinding: 'JSONRPC', protocolVersion: '1.0' }],
        capabilities: { streaming: false },
        defaultInputModes: ['application/json'],
        defaultOutputModes: ['application/json'],
        skills: [{ id: 'translate', name: 'translate', description: 'translates', tags: ['translate'] }],
      });
    const attempts = new Map<string, number>();
    const executor: AgentExecutor = {
      execute: async (context: RequestContext, bus: ExecutionEventBus) => {
        const message = context.userMessage;
        const content = message.parts[0]?.content;
        const input = content?.$case === 'data' ? content.value : content?.$case === 'text' ? content.value : null;
        const meshTask = String(message.metadata?.agentmeshTaskId ?? message.messageId);
        attempts.set(meshTask, (attempts.get(meshTask) ?? 0) + 1);
        this.received.push({ messageId: message.messageId, skill: message.metadata?.skill, input });
        this.running += 1;
        this.maxRunning = Math.max(this.maxRunning, this.running);
        try {
          const task: Task = Task.fromJSON({ id: context.taskId, contextId: context.contextId, status: { state: 'TASK_STATE_WORKING' } });
          bus.publish(AgentEvent.task(task));
          const result = await this.behaviour(input, { attemptsOfTask: attempts.get(meshTask)! });
          if (result.output !== undefined) {
            bus.publish(
              AgentEvent.artifactUpdate({
                taskId: context.taskId,
                contextId: context.contextId,
                artifact: { artifactId: 'result', name: 'result', description: '', parts: [{ content: { $case: 'data', value: result.output }, metadata: undefined, filename: '', mediaType: 'application/json' }], metadata: undefined, extensions: [] },
                append: false,
                lastChunk: true,
                metadata: undefined,
              }),
            );
          }
          const statusMessage = result.text === undefined ? undefined : { messageId: `${context.taskId}-status`, contextId: context.contextId, taskId: context.taskId, role: 2, parts: [{ content: { $case: 'text' as const, value: result.text }, metadata: undefined, filename: '', mediaType: 'text/plain' }], metadata: undefined, extensions: [], referenceTaskIds: [] };
          bus.publish(AgentEvent.statusUpdate({ taskId: context.taskId, contextId: context.contextId, status: { state: result.state, message: statusMessage, timestamp: new Date().toISOString() }, metadata: undefined }));
        } finally {
          this.running -= 1;
          bus.finished();
        }
      },
      cancelTask: async () => {},
    };
    const handler = new DefaultRequestHandler(card(), new InMemoryTaskStore(), executor);
    const transport = new JsonRpcTransportHandler(handler);
    this.server = createServer((request, response) => {
      if (request.method === 'GET' && request.url === '/.well-known/agent-card.json') {
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(AgentCard.toJSON(card())));
        return;
      }
      if (request.method !== 'POST' || request.url !== '/a2a') return void response.writeHead(404).end();
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', async () => {
        const answer = await transport.handle(Buffer.concat(chunks).toString('utf8'), new ServerCallContext());
        if (Symbol.asyncIterator in answer) {
          response.writeHead(200, { 'content-type': 'text/event-stream' });
          for await (const event of answer) response.write(formatSSEEvent(event));
          response.end();
        } else response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
