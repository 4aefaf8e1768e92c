package dev.sparktune.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DatasetRegistryTest {

    @Test
    void entriesTakeLlamaFactoryDefaultsAndOverrides() {
        DatasetRegistry registry = DatasetRegistry.parse("""
                alpaca_demo:
                  file_name: alpaca.jsonl
                  columns: {query: extra, system: sys}
                chat:
                  file_name: chat.json
                  formatting: sharegpt
                  tags: {role_tag: role, content_tag: content, user_tag: user, assistant_tag: assistant}
                spam:
                  file_name: mail/spam-*/*.txt
                  file_format: email
                  formatting: classification
                  label: spam
                """, "dataset_info.yaml");

        DatasetSpec alpaca = registry.get("alpaca_demo");
        assertEquals("alpaca", alpaca.formatting());
        assertEquals(FileFormat.JSONL, alpaca.fileFormat());
        assertEquals(Map.of("prompt", "instruction", "query", "extra", "response", "output", "system", "sys"), alpaca.columns());
        assertNull(alpaca.column("history"));

        DatasetSpec chat = registry.get("chat");
        assertEquals(FileFormat.JSON, chat.fileFormat());
        assertEquals("conversations", chat.column("messages"));
        assertEquals(Map.of("role_tag", "role", "content_tag", "content", "user_tag", "user",
                "assistant_tag", "assistant", "system_tag", "system"), chat.tags());

        DatasetSpec spam = registry.get("spam");
        assertEquals(FileFormat.EMAIL, spam.fileFormat());
        assertEquals("spam", spam.label());
        assertEquals(List.of("alpaca_demo", "chat", "spam"), List.copyOf(registry.names()));
    }

    @Test
    void everyProblemNamesTheDatasetAndTheKey() {
        DatasetInfoException e = assertThrows(DatasetInfoException.class, () -> DatasetRegistry.parse("""
                a:
                  file_name: a.jsonl
                  hf_hub_url: tatsu-lab/alpaca
                  columns: {prompt: q, answer: r}
                b:
                  formatting: chat
                c:
                  file_name: mails
                  file_format: email
                  formatting: classification
                d:
                  file_name: d.csv
                  formatting: classification
                  tags: {role_tag: from}
                """, "info.yaml"));

        List<String> problems = e.problems();
        assertEquals(6, problems.size(), e.getMessage());
        assertTrue(problems.get(0).startsWith("a.hf_hub_url: unknown key"), problems.get(0));
        assertTrue(problems.get(1).startsWith("a.columns.answer: unknown key; alpaca takes history, prompt, query,"
                + " response, system"), problems.get(1));
        assertTrue(problems.contains("b.file_name: missing; give a file, folder or glob under data.dataset_dir"), e.getMessage());
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("b.formatting: 'chat' is not allowed")), e.getMessage());
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("c.label: classification from email files needs a fixed label")),
                e.getMessage());
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("d.tags: only sharegpt datasets have role tags")), e.getMessage());
        assertTrue(e.getMessage().startsWith("info.yaml:"), e.getMessage());
    }

    @Test
    void datasetsNameTheirTaskAndSeveralMayShareOne() {
        DatasetRegistry registry = DatasetRegistry.parse("""
                ham: {file_name: ham/, file_format: email, formatting: classification, label: ham, task: spam_filter}
                spam: {file_name: spam/, file_format: email, formatting: classification, label: spam, task: spam_filter}
                reviews: {file_name: reviews.csv, formatting: classification}
                """, "r");
        assertEquals(java.util.Map.of("ham", "spam_filter", "spam", "spam_filter", "reviews", "reviews"),
                registry.tasks(java.util.List.of("ham", "spam", "reviews")));

        DatasetInfoException e = assertThrows(DatasetInfoException.class,
                () -> DatasetRegistry.parse("a: {file_name: a.jsonl, task: 'spam filter/v2'}\n", "r"));
        assertTrue(e.getMessage().contains("a.task: the task name 'spam filter/v2' becomes a folder name"),
                e.getMessage());
    }

    @Test
    void unknownDatasetListsTheKnownOnes() {
        DatasetRegistry registry = DatasetRegistry.parse("x: {file_name: x.jsonl}\ny: {file_name: y.csv}\n", "r");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> registry.get("z"));
        assertTrue(e.getMessage().contains("dataset 'z' is not in the dataset registry; it lists x, y"), e.getMessage());
    }
}
