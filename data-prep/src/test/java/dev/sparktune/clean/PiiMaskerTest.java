package dev.sparktune.clean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.testing.AdversarialText;
import dev.sparktune.testing.TaskThread;
import java.util.EnumSet;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PiiMaskerTest {
    private final PiiMasker all = new PiiMasker(CleanOptions.defaultMasks(EnumSet.allOf(PiiKind.class)));

    @Test
    void masksEmailAddresses() {
        assertEquals("Write to <EMAIL> or <EMAIL>.",
                all.mask("Write to john.doe+spam@example.co.uk or Jane_D@mail.example.org."));
    }

    @Test
    void masksPhoneNumbersInCommonFormats() {
        assertEquals("Call <PHONE> now", all.mask("Call +1 (202) 555-0143 now"));
        assertEquals("Call <PHONE> now", all.mask("Call (202) 555-0143 now"));
        assertEquals("UK: <PHONE>.", all.mask("UK: +44 20 7946 0958."));
        assertEquals("手机 <PHONE>", all.mask("手机 13800138000"));
        assertEquals("tel <PHONE>", all.mask("tel 555-1234"));
        assertEquals("Paris <PHONE>", all.mask("Paris 01 23 45 67 89"));
    }

    @Test
    void masksCardNumbersThatPassLuhn() {
        // standard test card numbers, all Luhn-valid
        assertEquals("card <CARD> exp 12/27", all.mask("card 4111 1111 1111 1111 exp 12/27"));
        assertEquals("<CARD>", all.mask("5500-0000-0000-0004"));
        assertEquals("amex <CARD>", all.mask("amex 378282246310005"));
    }

    @Test
    void masksIdNumbers() {
        assertEquals("SSN <ID>", all.mask("SSN 123-45-6789"));
        // a resident ID number whose check digit is right (GB 11643 example)
        assertEquals("身份证 <ID>", all.mask("身份证 11010519491231002X"));
    }

    @Test
    void leavesOrdinaryNumbersAlone() {
        String[] keep = {
            "The meeting is on 2026-11-28 at 10:30.",
            "Born 28.11.1990 in Berlin",
            "Invoice 12345 for 3 items",
            "pi is 3.14159265358979",
            "Server at 192.168.100.200 answered",
            "Population 1.234.567 people",
            "Scores were 85 90 78 92 this term",
            "Version 1.2.3 released",
            "Order 1234567 shipped",
            "card 4111 1111 1111 1112 is not a valid number", // fails Luhn, 16 digits
            "ID 110105194912310021 has a wrong check digit",
            "SSN 000-12-3456 is not issued",
        };
        for (String s : keep) {
            assertEquals(s, all.mask(s), s);
        }
        assertFalse(PiiMasker.luhnValid("4111111111111112"));
        assertTrue(PiiMasker.luhnValid("4111111111111111"));
    }

    @Test
    void onlyConfiguredKindsAreMaskedWithTheirTokens() {
        PiiMasker emailOnly = new PiiMasker(Map.of(PiiKind.EMAIL, "[mail]"));
        assertEquals("[mail] or 555-1234", emailOnly.mask("a@b.example or 555-1234"));
        PiiMasker none = new PiiMasker(Map.of());
        assertEquals("a@b.example", none.mask("a@b.example"));
    }

    /**
     * Issue 19: a 6 KB price list (one long run of digit groups and spaces) made the number pattern recurse once per
     * group and overflow a task thread's stack. Now the scan is iterative: the list is no personal number and stays.
     */
    @Test
    void aSixKilobytePriceListAndOtherLongRunsMaskWithoutOverflowingTheStack() {
        String prices = AdversarialText.priceList(6 * 1024);
        assertEquals(prices, TaskThread.call(() -> all.mask(prices)));
        for (String run : new String[] {AdversarialText.runOf("1", " ", 6 * 1024),
                AdversarialText.runOf("12", "-", 64 * 1024), AdversarialText.runOf("(12)", "", 64 * 1024),
                AdversarialText.runOf("1", ".", 64 * 1024), "x@" + AdversarialText.runOf("a1", ".", 64 * 1024) + ".com"}) {
            String masked = TaskThread.call(() -> all.mask(run));
            assertTrue(masked.length() <= run.length(), run.substring(0, 20));
        }
        // a phone number at the end of a long list is still found
        String list = AdversarialText.runOf("1", " ", 6 * 1024) + ". Call 555-1234.";
        assertTrue(TaskThread.call(() -> all.mask(list)).endsWith("Call <PHONE>."));
        String mail = "x@" + AdversarialText.runOf("a1", ".", 64 * 1024) + ".com";
        assertEquals("<EMAIL>", TaskThread.call(() -> all.mask(mail)));
    }
}
