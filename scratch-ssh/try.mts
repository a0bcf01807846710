import ssh2 from 'ssh2';
import { startSshd } from '../test/helpers/sshd.js';
const s = await startSshd({ password: true });
console.log(s.port, s.hostKey, s.uid, s.home);
const c = new ssh2.Client();
c.on('ready', () => {
  c.exec('id -u; echo $HOME; echo ${TMPDIR:-unset}; env', (err, ch) => {
    if (err) throw err;
    ch.on('data', (d: Buffer) => process.stdout.write(d));
    ch.on('exit', (...a: unknown[]) => console.log('exit', a));
    ch.on('close', async () => { c.end(); await s.close(); console.log(s.log.join('\n')); });
  });
});
c.on('error', (e) => console.log('err', e));
c.connect({ host: s.host, port: s.port, username: s.user, privateKey: s.privateKey, hostVerifier: (k: Buffer) => { console.log('offered', k.length); return true; } });
