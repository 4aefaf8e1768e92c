package dev.sparktune.clean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.testing.AdversarialText;
import dev.sparktune.testing.TaskThread;
import org.junit.jupiter.api.Test;

class TextNormalizerTest {

    @Test
    void nfkcTurnsFullWidthLettersDigitsAndPunctuationIntoAscii() {
        assertEquals("ABC xyz 123", TextNormalizer.nfkc("ＡＢＣ\u3000ｘｙｚ\u3000１２３"));
        assertEquals("Hello, World!", TextNormalizer.nfkc("Ｈｅｌｌｏ，\u0020Ｗｏｒｌｄ！"));
        assertEquals("(a+b)=c", TextNormalizer.nfkc("（ａ＋ｂ）＝ｃ"));
        // half-width katakana become full-width, ligatures split, circled digits become digits
        assertEquals("カタカナ", TextNormalizer.nfkc("ｶﾀｶﾅ"));
        assertEquals("office", TextNormalizer.nfkc("oﬃce"));
        assertEquals("1", TextNormalizer.nfkc("①"));
        // ordinary Chinese is already NFKC and stays as it is
        assertEquals("我们今天去北京。", TextNormalizer.nfkc("我们今天去北京。"));
    }

    @Test
    void htmlBecomesVisibleTextWithBlockBreaks() {
        String html = "<html><head><title>t</title><style>p{color:red}</style></head><body>"
                + "<p>First&nbsp;paragraph with <b>bold</b> &amp; <a href=\"x\">a link</a>.</p>"
                + "<script>alert('x')</script><div>Second<br>line</div><!-- comment --></body></html>";
        assertEquals("First paragraph with bold & a link.\n\nSecond\nline", TextNormalizer.normalize(html, true));
    }

    @Test
    void codeThatIsNotHtmlIsLeftAlone() {
        String code = "List<String> xs = new ArrayList<>();\nif (a < b && c > d) { return; }";
        assertFalse(HtmlText.looksLikeHtml(code));
        assertEquals(code, TextNormalizer.normalize(code, true));
    }

    @Test
    void entitiesWithoutTagsAreDecoded() {
        assertEquals("Tom & Jerry's \"show\"",
                TextNormalizer.normalize("Tom &amp; Jerry&#39;s &quot;show&quot;", true));
        assertEquals("Tom &amp; Jerry", TextNormalizer.normalize("Tom &amp; Jerry", false));
    }

    @Test
    void controlCharactersGoButTabsNewlinesAndJoinersStay() {
        String in = "a\u0000b\u0007c\u001Bd\u007Fe\u0085f\u200Bg\uFEFFh\u00ADi\uFFFDj\tk\nl\u200Dm";
        // NEL becomes a line break, ZWJ (U+200D) is kept, a tab inside a line becomes a space
        assertEquals("abcde\nfghij k\nl\u200Dm", TextNormalizer.normalize(in, true));
        assertEquals("a\tb", TextNormalizer.removeControlCharacters("a\tb"));
        assertEquals("xy", TextNormalizer.removeControlCharacters("x\u0001\u009Fy"));
    }

    @Test
    void whitespaceRunsCollapseButIndentationStays() {
        String in = "  \r\nTitle   with\t\tgaps   \r\n\r\n\r\n\r\ndef f():\n    return 1   \n";
        assertEquals("Title with gaps\n\ndef f():\n    return 1", TextNormalizer.normalize(in, true));
    }

    @Test
    void mimeLeftoversAreRemovedAndQuotedPrintableDecoded() {
        String in = "This is a multi-part message in MIME format.\n"
                + "------=_NextPart_000_0001_01C2\n"
                + "Content-Type: text/plain;\n\tcharset=\"utf-8\"\n"
                + "Content-Transfer-Encoding: quoted-printable\n\n"
                + "Caf=C3=A9 prices are =3D 3 euros, a very long line that was wrapped by the =\n"
                + "encoder.\n"
                + "------=_NextPart_000_0001_01C2--\n";
        assertEquals("Café prices are = 3 euros, a very long line that was wrapped by the encoder.",
                TextNormalizer.normalize(in, true));
    }

    @Test
    void markdownRulesAndEqualsSignsInOrdinaryTextSurvive() {
        String in = "Intro\n----------\nx =3D y is not quoted-printable here";
        assertEquals(in, TextNormalizer.normalize(in, true));
        String code = "const total =\n    price * 3;";
        assertEquals(code, TextNormalizer.normalize(code, true));
        assertTrue(TextNormalizer.normalize("--\nJohn", true).contains("--"));
    }

    /**
     * Issue 19: long runs through every pattern of the normaliser, on a task thread's stack: a price list, a MIME
     * header followed by thousands of folded continuation lines, runs of separators and brackets.
     */
    @Test
    void longRunsNormaliseWithoutOverflowingTheStack() {
        String prices = AdversarialText.priceList(6 * 1024);
        assertEquals(prices.strip(), TaskThread.call(() -> TextNormalizer.normalize(prices, true)));
        String folded = "Content-Type: text/plain;\n" + AdversarialText.runOf(" x", "\n", 64 * 1024) + "\nBody";
        assertEquals("Body", TaskThread.call(() -> TextNormalizer.normalize(folded, true)));
        for (String run : new String[] {AdversarialText.runOf("12", "-", 64 * 1024),
                AdversarialText.runOf("(", "", 64 * 1024), AdversarialText.runOf("=41", "", 64 * 1024),
                AdversarialText.runOf("--boundary", "\n", 64 * 1024), AdversarialText.runOf("a", "  ", 64 * 1024)}) {
            TaskThread.call(() -> TextNormalizer.normalize(run, true));
        }
    }
}
