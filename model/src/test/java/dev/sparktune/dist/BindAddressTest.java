package dev.sparktune.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import org.junit.jupiter.api.Test;

class BindAddressTest {

    @Test
    void blocksContainTheirAddressesOnly() throws UnknownHostException {
        assertTrue(BindAddress.contains("10.0.0.0/8", v4("10.200.3.4")));
        assertFalse(BindAddress.contains("10.0.0.0/8", v4("11.0.0.1")));
        assertTrue(BindAddress.contains("192.168.1.0/24", v4("192.168.1.255")));
        assertFalse(BindAddress.contains("192.168.1.0/24", v4("192.168.2.1")));
        assertTrue(BindAddress.contains("172.16.0.0/12", v4("172.31.255.1")));
        assertFalse(BindAddress.contains("172.16.0.0/12", v4("172.32.0.1")));
        assertTrue(BindAddress.contains("0.0.0.0/0", v4("203.0.113.9")));
        assertTrue(BindAddress.contains("203.0.113.9/32", v4("203.0.113.9")));
        assertFalse(BindAddress.contains("203.0.113.9/32", v4("203.0.113.8")));
    }

    @Test
    void loopbackIsSelectedByItsBlock() {
        assertEquals("127.0.0.1", BindAddress.select("127.0.0.0/8").getHostAddress());
    }

    @Test
    void aMalformedBlockIsNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BindAddress.contains("10.0.0.0/33", v4("10.0.0.1")));
        assertTrue(e.getMessage().contains("10.0.0.0/33"), e.getMessage());
    }

    private static Inet4Address v4(String dotted) throws UnknownHostException {
        return (Inet4Address) InetAddress.getByName(dotted);
    }
}
