import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy in front of a server that can cut every open connection at once — what a load balancer
 * restart, a NAT timeout or a flaky network does to a long-lived stream. The client sees its connection
 * reset and reconnects through the proxy; the server sees its client go away.
 */
export class CuttingProxy {
  #open = new Set<Socket>();
  #connections = 0;

  readonly #server: Server;
  #url = "";

  private constructor(target: { host: string; port: number }) {
    this.#server = createServer((client) => this.#track(client, connect(target.port, target.host)));
  }

  static async start(target: { host: string; port: number }): Promise<CuttingProxy> {
    const proxy = new CuttingProxy(target);
    await new Promise<void>((resolve) => proxy.#server.listen(0, "127.0.0.1", resolve));
    const address = proxy.#server.address();
    if (!address || typeof address === "string") throw new Error("proxy has no TCP address");
    proxy.#url = `http://127.0.0.1:${address.port}`;
    return proxy;
  }

  /** The proxy's base URL. */
  get url(): string {
    return this.#url;
  }

  /** TCP connections accepted so far. */
  get connections(): number {
    return this.#connections;
  }

  /** Resets every open connection, both sides. */
  cutAll(): number {
    const cut = this.#open.size / 2;
    for (const socket of this.#open) socket.resetAndDestroy();
    this.#open.clear();
    return cut;
  }

  async stop(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #track(client: Socket, upstream: Socket): void {
    this.#connections++;
    for (const socket of [client, upstream]) {
      this.#open.add(socket);
      socket.on("close", () => this.#open.delete(socket));
      socket.on("error", () => undefined);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  }
}
