// QEMU's edu device (1234:11e8) as a DMA engine: 16..4096 bytes between an address it issues
// (translated by the IOMMU) and its internal buffer at device address 0x40000. Its DMA completes
// on a virtual timer: a qtest round trip lets QEMU's main loop run it, so completion is polled.
import { QemuError, type Qtest } from './qtest.ts';

/** The device address of edu's 4 KiB buffer (a DMA must stay inside it). */
export const EDU_BUFFER = 0x40000n;
export const EDU_BUFFER_SIZE = 0x1000n;
const REG_SRC = 0x80n;
const REG_DST = 0x88n;
const REG_COUNT = 0x90n;
const REG_CMD = 0x98n;
const CMD_RUN = 1n;
const CMD_TO_RAM = 2n; // direction: from the buffer to the address
/** Polls of the command register before a DMA is declared stuck. */
const MAX_POLLS = 200;

const h = (x: bigint): string => '0x' + x.toString(16);

export class Edu {
  constructor(
    private readonly qtest: Qtest,
    /** BAR0's address. */
    readonly bar: bigint,
  ) {}

  /**
   * The commands that start a DMA: `fromAddress` true reads `address` into the buffer at
   * `offset`, false writes the buffer at `offset` out to `address`.
   */
  startCommands(address: bigint, count: bigint, fromAddress: boolean, offset = 0n): string[] {
    if (offset + count > EDU_BUFFER_SIZE || count <= 0n) throw new RangeError('an edu DMA must stay inside its 4 KiB buffer');
    const buffer = EDU_BUFFER + offset;
    const [src, dst] = fromAddress ? [address, buffer] : [buffer, address];
    return [
      `writeq ${h(this.bar + REG_SRC)} ${h(src)}`,
      `writeq ${h(this.bar + REG_DST)} ${h(dst)}`,
      `writeq ${h(this.bar + REG_COUNT)} ${h(count)}`,
      `writeq ${h(this.bar + REG_CMD)} ${h(CMD_RUN | (fromAddress ? 0n : CMD_TO_RAM))}`,
    ];
  }

  /** The command whose answer tells whether the DMA is still running (see `done`). */
  pollCommand(): string {
    return `readq ${h(this.bar + REG_CMD)}`;
  }

  /** Whether a poll's answer says the DMA has completed. */
  static done(answer: string): boolean {
    return (BigInt(answer) & CMD_RUN) === 0n;
  }

  /** Polls, one round trip each, until the running DMA completes. */
  async wait(): Promise<void> {
    for (let i = 0; i < MAX_POLLS; i++) if (Edu.done(await this.qtest.command(this.pollCommand()))) return;
    throw new QemuError(`edu DMA did not complete after ${MAX_POLLS} polls`);
  }

  /** One DMA, started and waited for. */
  async dma(address: bigint, count: bigint, fromAddress: boolean, offset = 0n): Promise<void> {
    const answers = await this.qtest.batch([...this.startCommands(address, count, fromAddress, offset), this.pollCommand()]);
    if (!Edu.done(answers[answers.length - 1]!)) await this.wait();
  }
}
