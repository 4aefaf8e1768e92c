package dev.sparktune.dist;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Picks the local IPv4 address a rank listens on: the first one inside a CIDR block, for hosts with many NICs. */
final class BindAddress {

    private BindAddress() {
    }

    /**
     * The first address of an up interface inside {@code cidr} (such as {@code 10.0.0.0/8}); without a block, the
     * first non-loopback IPv4 address, or loopback when the host has none.
     */
    static InetAddress select(String cidr) {
        List<Inet4Address> candidates = localIpv4();
        if (cidr == null) {
            return candidates.stream().filter(a -> !a.isLoopbackAddress()).findFirst()
                    .map(a -> (InetAddress) a).orElse(InetAddress.getLoopbackAddress());
        }
        for (Inet4Address a : candidates) {
            if (contains(cidr, a)) {
                return a;
            }
        }
        throw new CollectiveException("no network interface of this host has an IPv4 address in dist.network_cidr "
                + cidr + " (its addresses: " + candidates + "); set dist.network_cidr to the block of the network the ranks share");
    }

    static boolean contains(String cidr, Inet4Address address) {
        String[] parts = cidr.split("/");
        if (parts.length != 2) {
            throw new IllegalArgumentException("expected an IPv4 block such as 10.0.0.0/8, got '" + cidr + "'");
        }
        int bits = Integer.parseInt(parts[1]);
        if (bits < 0 || bits > 32) {
            throw new IllegalArgumentException("the prefix length of '" + cidr + "' must lie in 0..32");
        }
        int mask = bits == 0 ? 0 : -1 << (32 - bits);
        return (toInt(parse(parts[0])) & mask) == (toInt(address.getAddress()) & mask);
    }

    private static byte[] parse(String dotted) {
        String[] octets = dotted.split("\\.");
        if (octets.length != 4) {
            throw new IllegalArgumentException("expected an IPv4 address, got '" + dotted + "'");
        }
        byte[] out = new byte[4];
        for (int i = 0; i < 4; i++) {
            int v = Integer.parseInt(octets[i]);
            if (v < 0 || v > 255) {
                throw new IllegalArgumentException("octet " + v + " of '" + dotted + "' is out of 0..255");
            }
            out[i] = (byte) v;
        }
        return out;
    }

    private static int toInt(byte[] b) {
        return (b[0] & 0xff) << 24 | (b[1] & 0xff) << 16 | (b[2] & 0xff) << 8 | (b[3] & 0xff);
    }

    private static List<Inet4Address> localIpv4() {
        List<Inet4Address> out = new ArrayList<>();
        try {
            for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                if (!nic.isUp()) {
                    continue;
                }
                for (InetAddress a : Collections.list(nic.getInetAddresses())) {
                    if (a instanceof Inet4Address v4) {
                        out.add(v4);
                    }
                }
            }
        } catch (SocketException e) {
            throw new CollectiveException("cannot list this host's network interfaces: " + e.getMessage(), e);
        }
        return out;
    }
}
