// A list+watch informer on the ConfigMaps of one namespace, written the way
// @kubernetes/client-node's documentation shows. Prints one JSON line per
// event with the informer's whole cache, so the test can follow it:
//   {"event":"add","name":"a","names":["a","b"]}
// Usage: node informer.mjs KUBECONFIG NAMESPACE
import * as k8s from '@kubernetes/client-node';

const [kubeconfig, namespace] = process.argv.slice(2);
const kc = new k8s.KubeConfig();
kc.loadFromFile(kubeconfig);
const api = kc.makeApiClient(k8s.CoreV1Api);
const path = `/api/v1/namespaces/${namespace}/configmaps`;
const informer = k8s.makeInformer(kc, path, () => api.listNamespacedConfigMap({ namespace }));

function report(event, obj) {
    const names = informer.list(namespace).map((o) => o.metadata.name).sort();
    const line = { event, names };
    if (obj && obj.metadata) line.name = obj.metadata.name;
    process.stdout.write(JSON.stringify(line) + '\n');
}

informer.on('add', (o) => report('add', o));
informer.on('update', (o) => report('update', o));
informer.on('delete', (o) => report('delete', o));
// The documented way to keep an informer going after an error: start it again.
function restart() {
    setTimeout(() => {
        informer.start().then(() => report('started')).catch(() => {
            report('error');
            restart();
        });
    }, 500);
}
informer.on('error', () => {
    report('error');
    restart();
});
informer.start().then(() => report('started')).catch((e) => {
    process.stderr.write(`informer: ${e}\n`);
    process.exit(1);
});
