// Starts the suite's origin server (http-cache-tests/server/server.mjs) on
// loopback only. server.mjs reads its port from npm_config_port and calls
// server.listen(port) without a host, i.e. on all interfaces, with no option
// to change that; so bind the host here before loading it.
import net from 'node:net'

const host = process.env.ORIGIN_HOST || '127.0.0.1'
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (port, ...rest) {
  if (/^\d+$/.test(String(port))) return listen.call(this, Number(port), host, ...rest)
  return listen.call(this, port, ...rest)
}

await import('http-cache-tests/server/server.mjs')
