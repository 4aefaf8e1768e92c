package dev.sparktune.augment;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sparktune.testing.AdversarialText;
import dev.sparktune.testing.TaskThread;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProtectedTokensTest {
    private final ProtectedTokens tokens = new ProtectedTokens(List.of("Spark"));

    @Test
    void numbersUrlsAddressesPlaceholdersAndConfiguredTokensAreFixed() {
        List<Token> parts = tokens.split("Spark 3.5.1 at https://x.org/a, mail a.b@c.co.uk <EMAIL> 1,234.5 sparkly");
        assertEquals(List.of("Spark", "3.5.1", "https://x.org/a,", "a.b@c.co.uk", "<EMAIL>", "1,234.5"),
                parts.stream().filter(Token::fixed).map(Token::text).toList());
    }

    /**
     * Issue 19: the number pattern recursed once per digit group, so a 6 KB price list overflowed a task thread's
     * stack; so did a long dotted address.
     */
    @Test
    void aSixKilobytePriceListAndLongDottedRunsSplitWithoutOverflowingTheStack() {
        String dashed = AdversarialText.runOf("12", "-", 6 * 1024);
        List<Token> parts = TaskThread.call(() -> tokens.split(dashed));
        assertEquals(List.of(dashed), parts.stream().filter(Token::fixed).map(Token::text).toList());
        String prices = AdversarialText.priceList(6 * 1024);
        TaskThread.call(() -> tokens.split(prices));
        String address = "x@" + AdversarialText.runOf("a", ".", 64 * 1024);
        assertEquals(List.of(address), TaskThread.call(() -> tokens.split(address)).stream().filter(Token::fixed)
                .map(Token::text).toList());
        String word = AdversarialText.runOf("a", "-", 64 * 1024);
        TaskThread.call(() -> tokens.split(word));
    }
}
