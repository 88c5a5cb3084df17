package netlab

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// tunTxQueueLen raises the kernel's queue in front of each TUN device from
// 500 packets, which a TCP burst overflows before the emulator reads it;
// the emulator applies its own, configured queue behind it. The devices'
// MTU is the lab's, like the veth they replace.
const tunTxQueueLen = 5000

// openTUN creates the layer-3 TUN device name in the calling thread's
// network namespace, so it must run inside In. The device lives as long as
// the returned file. IFF_NO_PI leaves bare IP packets on the file, and
// without IFF_VNET_HDR the device offers no segmentation offload, so the
// kernel hands it packets no larger than the MTU.
//
// The descriptor is non-blocking, which lets the file use the Go runtime's
// poller: a Read waits without holding a thread and Close interrupts it.
func openTUN(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("netlab: open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlab: TUN device name %q: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlab: create TUN device %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), "tun:"+name), nil
}
