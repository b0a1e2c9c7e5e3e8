// Placeholder until the PostgreSQL harness lands: pure tests need no server.
export default function setup(): void {}
