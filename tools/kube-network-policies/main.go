// Command kube-network-policies enforces NetworkPolicies on the real nodes (test/real-node): the
// network-policy controller of sigs.k8s.io/kube-network-policies (the one kind ships), unchanged, behind a
// main of our own for what differs here. The project's main reads only the in-cluster config and names a
// fixed nftables table; the test nodes share one kernel, so each node's controller gets its own table
// and NFQUEUE, and runs as a host process with a kubeconfig, like the machine's kube-proxy.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"sigs.k8s.io/kube-network-policies/pkg/networkpolicy"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the identity the controller watches with (required)")
	nodeName := flag.String("hostname-override", "", "the node whose pods this controller polices (required)")
	table := flag.String("nftables-table", "", "the nftables table (inet family) this controller owns (required)")
	queueID := flag.Int("nfqueue-id", 100, "the NFQUEUE the first packet of a policed connection goes to")
	metrics := flag.String("metrics-bind-address", "127.0.0.1:0", "where /metrics is served")
	klog.InitFlags(nil)
	flag.Parse()
	if *kubeconfig == "" || *nodeName == "" || *table == "" {
		fmt.Fprintln(os.Stderr, "kube-network-policies: --kubeconfig, --hostname-override and --nftables-table are required")
		os.Exit(2)
	}

	// SIGTERM as well as SIGINT: the test stops it like every other node process.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		klog.Fatalf("reading %s: %v", *kubeconfig, err)
	}
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		klog.Fatalf("creating the client: %v", err)
	}
	factory := informers.NewSharedInformerFactory(clientset, 0)

	go func() {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.Handler())
		klog.Warning(http.ListenAndServe(*metrics, mux))
	}()

	controller, err := networkpolicy.NewController(
		clientset,
		factory.Networking().V1().NetworkPolicies(),
		factory.Core().V1().Namespaces(),
		factory.Core().V1().Pods(),
		nil, nil, nil, nil, // no (Baseline)AdminNetworkPolicy: mesh renders NetworkPolicies only
		networkpolicy.Config{
			NodeName:    *nodeName,
			NFTableName: *table,
			QueueID:     *queueID,
			// Fail closed: a policed pod's new connections are dropped while the controller is down.
			FailOpen: false,
			// The conntrack race it works around is fixed in kernels 6.12+; this host runs a newer one.
			NetfilterBug1766Fix: false,
			// Pod addresses come from the API server: containerd 1.6 has no NRI socket.
			NRIdisabled: true,
		},
	)
	if err != nil {
		klog.Fatalf("creating the controller: %v", err)
	}
	factory.Start(ctx.Done())
	// Run returns when ctx ends, after removing its nftables table.
	if err := controller.Run(ctx); err != nil {
		klog.Errorf("controller: %v", err)
		os.Exit(1)
	}
}
