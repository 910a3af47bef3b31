// Command kube-router-netpol enforces NetworkPolicies on the real nodes (test/real-node): kube-router's
// network-policy controller (github.com/cloudnativelabs/kube-router/v2/pkg/controllers/netpol), unchanged,
// run on its own as k3s embeds it: iptables and ipsets, no routing and no service proxy compiled in. A main
// of ours because kube-router's own would build those too; it takes a kubeconfig and the node to police.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/cloudnativelabs/kube-router/v2/pkg/controllers/netpol"
	"github.com/cloudnativelabs/kube-router/v2/pkg/healthcheck"
	"github.com/cloudnativelabs/kube-router/v2/pkg/options"
	"github.com/cloudnativelabs/kube-router/v2/pkg/utils"
	"github.com/coreos/go-iptables/iptables"
	v1core "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the identity the controller watches with (required)")
	nodeName := flag.String("hostname-override", "", "the node whose pods this controller polices (required)")
	serviceRange := flag.String("service-cluster-ip-range", "", "the cluster's Service range (required)")
	syncPeriod := flag.Duration("iptables-sync-period", 5*time.Minute, "full resync besides the one each change triggers")
	klog.InitFlags(nil)
	flag.Parse()
	if *kubeconfig == "" || *nodeName == "" || *serviceRange == "" {
		fmt.Fprintln(os.Stderr, "kube-router-netpol: --kubeconfig, --hostname-override and --service-cluster-ip-range are required")
		os.Exit(2)
	}
	if err := run(*kubeconfig, *nodeName, *serviceRange, *syncPeriod); err != nil {
		klog.Errorf("kube-router-netpol: %v", err)
		os.Exit(1)
	}
}

func run(kubeconfig, nodeName, serviceRange string, syncPeriod time.Duration) error {
	restConfig, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("reading %s: %w", kubeconfig, err)
	}
	clientset, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return err
	}

	config := options.NewKubeRouterConfig()
	config.HostnameOverride = nodeName
	config.ClusterIPCIDRs = []string{serviceRange}
	config.EnableIPv4 = true
	config.IPTablesSyncPeriod = syncPeriod

	iptablesHandler, err := iptables.NewWithProtocol(iptables.ProtocolIPv4)
	if err != nil {
		return fmt.Errorf("iptables: %w", err)
	}
	ipsetHandler, err := utils.NewIPSet(false)
	if err != nil {
		return fmt.Errorf("ipset: %w", err)
	}

	factory := informers.NewSharedInformerFactory(clientset, 0)
	pods := factory.Core().V1().Pods().Informer()
	policies := factory.Networking().V1().NetworkPolicies().Informer()
	namespaces := factory.Core().V1().Namespaces().Informer()

	controller, err := netpol.NewNetworkPolicyController(clientset, config, pods, policies, namespaces, &sync.Mutex{},
		map[v1core.IPFamily]utils.IPTablesHandler{v1core.IPv4Protocol: iptablesHandler},
		map[v1core.IPFamily]utils.IPSetHandler{v1core.IPv4Protocol: ipsetHandler})
	if err != nil {
		return err
	}
	if _, err := pods.AddEventHandler(controller.PodEventHandler); err != nil {
		return err
	}
	if _, err := policies.AddEventHandler(controller.NetworkPolicyEventHandler); err != nil {
		return err
	}
	if _, err := namespaces.AddEventHandler(controller.NamespaceEventHandler); err != nil {
		return err
	}

	stop := make(chan struct{})
	factory.Start(stop)
	if !cache.WaitForCacheSync(stop, pods.HasSynced, policies.HasSynced, namespaces.HasSynced) {
		return fmt.Errorf("the informers did not sync")
	}

	// The controller reports a heartbeat per sync to kube-router's health checker; nothing reads it here.
	heartbeats := make(chan *healthcheck.ControllerHeartbeat, 8)
	go func() {
		for range heartbeats {
		}
	}()
	var running sync.WaitGroup
	running.Add(1)
	go controller.Run(heartbeats, stop, &running)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, os.Interrupt)
	<-signals
	close(stop)
	running.Wait()
	// Stopped, it leaves nothing: its chains, the jumps into them and its ipsets go.
	controller.Cleanup()
	return nil
}
