import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { onNewConnection } from '../helpers/http';

/** tests/helpers/http.ts: an answer the helper cannot read fails the call, not the whole test run. */
test('onNewConnection rejects an answer whose body is not JSON', async () => {
  const server = http.createServer((_request, response) => response.end('<html>not json</html>'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    await expect(onNewConnection('127.0.0.1', port, 'GET', '/docs')).rejects.toThrow('GET /docs: 200 with a body that is not JSON');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
