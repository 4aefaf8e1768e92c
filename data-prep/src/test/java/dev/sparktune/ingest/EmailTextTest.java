package dev.sparktune.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.testing.AdversarialText;
import dev.sparktune.testing.TaskThread;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * E-mail parsing on real SpamAssassin messages. The expected texts were read from the same files with Python's
 * {@code email} package (policy.default, get_content()), an independent MIME implementation.
 */
class EmailTextTest {

    @Test
    void quotedPrintableLatin1BodyIsDecodedAndRoutingHeadersAreDropped() throws Exception {
        byte[] raw = SpamAssassinCorpus.message("easy-ham-1/00063.0acbc484a73f0e0b727e06c100d8df7b.txt");
        assertTrue(new String(raw, StandardCharsets.ISO_8859_1).contains("can=B4t swap"), "the file is quoted-printable");

        String text = EmailText.of(raw);

        assertTrue(text.startsWith("Re: Tiny DNS Swap\n\nBob\n\nWe are a commercial company"), text);
        assertTrue(text.contains("servers, we can\u00b4t swap with you because we need someone in a similar"), text);
        assertTrue(text.contains("Bob Musser escribi\u00f3:"), text);
        for (String header : new String[] {"Received:", "Return-Path", "Delivered-To", "List-", "From ", "=B4"}) {
            assertFalse(text.contains(header), header);
        }
    }

    @Test
    void base64TextPartInsideAMultipartIsDecoded() throws Exception {
        byte[] raw = SpamAssassinCorpus.message("spam-1/00087.f09438ca6392721e63696f4f753effbb.txt");

        String text = EmailText.of(raw);

        assertTrue(text.startsWith("BIZ, .INFO, .COM for only $14.95\n\nIMPORTANT INFORMATION:\n\nThe new domain names"
                + " are finally available to the general public at discount prices."), text);
        assertFalse(text.contains("\r"), "CRLF line ends become LF");
    }

    @Test
    void nonUtf8CharsetsAreDecoded() throws Exception {
        String cp1251 = EmailText.of(SpamAssassinCorpus.message("easy-ham-1/00236.0d42e8e99de86aae42a4f3e3cdc2465b.txt"));
        assertTrue(cp1251.contains("PC World have these in stock for \u20ac65."), cp1251);

        String iso2022jp = EmailText.of(SpamAssassinCorpus.message("hard-ham-1/00039.b2b936a8501444b213f61f9ff193b480.txt"));
        assertTrue(iso2022jp.startsWith("\u65e5\u672c\u8a9e\u306e\u4ef6\u540d\uff08\u30b5\u30d6\u30b8\u30a7\u30af\u30c8\uff09"
                + "\u3000\u30b9\u30d1\u30e0\u30e1\u30fc\u30eb\u3067\u306f\u3042\u308a\u307e\u305b\u3093\uff01\n\n"), iso2022jp);
        assertTrue(iso2022jp.contains("\u3044\u3064\u3082\u304a\u4e16\u8a71\u306b\u306a\u3063\u3066\u304a\u308a\u307e"
                + "\u3059\u3002"), iso2022jp);
    }

    @Test
    void htmlOnlyBodyBecomesText() throws Exception {
        String text = EmailText.of(SpamAssassinCorpus.message("spam-2/00002.9438920e9a55591b18e60d1ed37d992b.txt"));

        assertTrue(text.startsWith("Real Protection, Stun Guns!  Free Shipping! Time:2:01:35 PM\n\n"), text);
        assertTrue(text.contains("The Need For Safety Is Real In 2002, You Might Only Get One Chance - Be Ready!"), text);
        assertFalse(text.contains("<"), text);
        assertFalse(text.toLowerCase().contains("font"), text);
    }

    @Test
    void aStubPlainAlternativeGivesWayToTheHtml() throws Exception {
        // a real newsletter: its text/plain alternative holds only "e", "e", "ssage"; its HTML holds the issue
        String text = EmailText.of(SpamAssassinCorpus.message("hard-ham-1/00021.1707ccb203e1a39f5167f1c0d65cc235.txt"));

        assertTrue(text.startsWith("Oracle Technology Network TechBlast - July 2002\n\n"), text);
        assertTrue(text.contains("July 2002 Issue"), text);
        assertFalse(text.contains("e\ne\nssage"), text);
        assertFalse(text.contains("<font"), text);
    }

    @Test
    void aRealPlainAlternativeIsKeptOverItsHtml() throws Exception {
        String text = EmailText.of(SpamAssassinCorpus.message("easy-ham-1/00062.009f5a1a8fa88f0b38299ad01562bb37.txt"));

        // the plain part's own layout (two spaces after a full stop, an indented list), which the HTML lacks
        assertTrue(text.contains("I'm using Simple DNS from JHSoft.  We support only a few web sites and I'd like"), text);
        assertTrue(text.contains("Makers of:\n   Process Server's Toolbox"), text);
    }

    @Test
    void aPlainAlternativeWithAQuarterOfTheHtmlsWordsOrMoreIsKept() throws Exception {
        String words = "one two three four five six seven eight nine ten";
        String html = ("<p style=\"font-family: Arial, Helvetica, sans-serif; color: #333333\">" + words + "</p>")
                .repeat(3);   // 30 words in markup far longer than the plain part
        String text = EmailText.of(alternative("Plain ten words", words, html).getBytes(StandardCharsets.UTF_8));

        assertEquals("Plain ten words\n\n" + words, text);
    }

    @Test
    void aStubOfFewLongWordsGivesWayToShortHtmlOfManyWords() throws Exception {
        String stub = "See https://example.com/newsletters/2002/09/this-issue-in-your-browser-instead-of-here.html";
        String html = "<p>" + "We ship new kernels to every user this week. ".repeat(4) + "</p>";   // 40 words
        String text = EmailText.of(alternative("Issue 42", stub, html).getBytes(StandardCharsets.UTF_8));

        assertEquals("Issue 42\n\n" + "We ship new kernels to every user this week. ".repeat(4).strip(), text);
    }

    @Test
    void htmlOutsideThePlainPartsAlternativeDoesNotReplaceIt() throws Exception {
        String newsletter = "<p>" + "Big savings on every product in our catalogue this week only. ".repeat(20) + "</p>";
        String forwarded = "From: shop@example.com\r\nSubject: Deals\r\nContent-Type: text/html\r\n\r\n" + newsletter;
        String mail = "From: a@example.com\r\nSubject: Fwd: deals\r\nMIME-Version: 1.0\r\n"
                + "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
                + "--outer\r\nContent-Type: text/plain\r\n\r\nFYI, see below.\r\n"
                + "--outer\r\nContent-Type: message/rfc822\r\n\r\n" + forwarded + "\r\n--outer--\r\n";

        assertEquals("Fwd: deals\n\nFYI, see below.", EmailText.of(mail.getBytes(StandardCharsets.UTF_8)));
    }

    private static String alternative(String subject, String plain, String html) {
        return "From: a@example.com\r\nSubject: " + subject + "\r\nMIME-Version: 1.0\r\n"
                + "Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
                + "--alt\r\nContent-Type: text/plain\r\n\r\n" + plain + "\r\n"
                + "--alt\r\nContent-Type: text/html\r\n\r\n" + html + "\r\n--alt--\r\n";
    }

    @Test
    void multipartWhoseBoundaryNeverAppearsIsRejected() {
        // a real spam: the header says boundary "=Multipart Boundary 0925021429", the body uses "= Multipart ..."
        RecordProblem p = assertThrows(RecordProblem.class,
                () -> EmailText.of(SpamAssassinCorpus.message("spam-1/00467.5b733c506b7165424a0d4a298e67970f.txt")));
        assertEquals("broken MIME body: a multipart/alternative whose boundary '=Multipart Boundary 0925021429'"
                + " never appears", p.getMessage());
    }

    @Test
    void brokenInputsAreRejectedWithAReason() {
        byte[] garbage = new byte[2000];
        new Random(7).nextBytes(garbage);
        assertTrue(assertThrows(RecordProblem.class, () -> EmailText.of(garbage)).getMessage()
                .startsWith("binary data, not an e-mail message:"));

        byte[] prose = "Dear team,\nthis is a note, not a message file.\n".getBytes(StandardCharsets.UTF_8);
        assertTrue(assertThrows(RecordProblem.class, () -> EmailText.of(prose)).getMessage()
                .startsWith("not an RFC 822 message: the first line is not a header field"));

        byte[] noBoundary = "Subject: x\nContent-Type: multipart/mixed\n\nhello\n".getBytes(StandardCharsets.US_ASCII);
        assertEquals("broken MIME body: a multipart/mixed part without a boundary parameter",
                assertThrows(RecordProblem.class, () -> EmailText.of(noBoundary)).getMessage());

        byte[] nothing = "From: a@b.c\nTo: d@e.f\n\n   \n".getBytes(StandardCharsets.US_ASCII);
        assertEquals("the message has no Subject and no text/plain or text/html body",
                assertThrows(RecordProblem.class, () -> EmailText.of(nothing)).getMessage());
    }

    /**
     * Issue 19: 10,000 nested multiparts (667 KB, within the default max_record_bytes) overflowed a task's stack
     * inside mime4j's nested boundary streams. The depth is now checked first and the message rejected; a message
     * nested a few levels deep still reads.
     */
    @Test
    void deeplyNestedMultipartsAreRejectedBeforeMime4jRecursesThroughThem() {
        byte[] deep = AdversarialText.nestedMime(10_000).getBytes(StandardCharsets.US_ASCII);
        String outcome = TaskThread.call(() -> {
            try {
                return "kept: " + EmailText.of(deep);
            } catch (RecordProblem p) {
                return p.getMessage();
            }
        });
        assertTrue(outcome.startsWith("MIME parts nested more than 64 deep (65 open multipart boundaries"), outcome);

        byte[] shallow = AdversarialText.nestedMime(10).getBytes(StandardCharsets.US_ASCII);
        assertEquals("deep\n\nhello", TaskThread.call(() -> {
            try {
                return EmailText.of(shallow);
            } catch (RecordProblem p) {
                return p.getMessage();
            }
        }));
    }
}
