// Command etcd is upstream's etcd server at the version k8s.io/kubernetes requires in go.mod.
// build.sh builds it only where Debian's etcd-server package cannot be installed.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
