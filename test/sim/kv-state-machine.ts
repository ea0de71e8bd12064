/** The simulator's replicated state machine: a string key-value map with put and append. */
export interface KvCommand {
  readonly op: number;
  readonly kind: 'put' | 'append';
  readonly key: string;
  readonly value: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(cmd: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(cmd));
}

export function decodeCommand(data: Uint8Array): KvCommand {
  return JSON.parse(decoder.decode(data)) as KvCommand;
}

export class KvStateMachine {
  private map = new Map<string, string>();

  apply(cmd: KvCommand): void {
    this.map.set(cmd.key, cmd.kind === 'put' ? cmd.value : (this.map.get(cmd.key) ?? '') + cmd.value);
  }

  get(key: string): string | null {
    return this.map.get(key) ?? null;
  }

  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify([...this.map.entries()].sort()));
  }

  restore(data: Uint8Array): void {
    this.map = data.byteLength === 0 ? new Map() : new Map(JSON.parse(decoder.decode(data)) as Array<[string, string]>);
  }
}
