/** A FIFO counting semaphore: bounds how many operations run at once. Taking a free slot creates no promise. */
export class Slots {
  private readonly waiters: (() => void)[] = [];
  constructor(private free: number) {}

  acquire(): Promise<void> | undefined {
    if (this.free > 0) {
      this.free--;
      return undefined;
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Takes a free slot if there is one; never queues. */
  tryAcquire(): boolean {
    if (this.free === 0) return false;
    this.free--;
    return true;
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free++;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const wait = this.acquire();
    if (wait) await wait;
    try {
      return await fn();
    } finally {
      this.release();
    }
  }
}
