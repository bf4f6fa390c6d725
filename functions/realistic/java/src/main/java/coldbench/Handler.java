package coldbench;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.services.s3.S3Client;

/** The realistic coldbench function (contract: functions/README.md; what it does at init:
 *  functions/realistic/README.md). */
public class Handler implements RequestHandler<Map<String, Object>, Map<String, Object>> {

    /** One product of the catalogue, as the document has it. */
    public record Product(long id, String sku, String name, String category,
                          String description, long price_cents, String currency,
                          boolean active, List<String> tags, Map<String, Integer> stock,
                          Map<String, Integer> dimensions_mm, double rating) {
    }

    /** The catalogue every realistic function parses at init. */
    public record Catalog(int version, List<Product> products) {
    }

    private static final byte[] BUF = new byte[4096];

    static {
        for (int i = 0; i < BUF.length; i++) {
            BUF[i] = (byte) i;  // byte i is i mod 256
        }
    }

    // Chosen during init, once per execution environment.
    private static final String INSTANCE_ID = randomHex(8);
    private static final String INITIALIZATION_TYPE = initializationType();
    private static final AtomicInteger INVOCATIONS = new AtomicInteger();

    private static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
    private static final Catalog CATALOG = readCatalog();
    // Region and credentials from the environment, as Lambda sets them; no request is
    // made until the client is used.
    private static final S3Client S3 = S3Client.builder()
            .httpClientBuilder(UrlConnectionHttpClient.builder())
            .build();

    @Override
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        int invocation = INVOCATIONS.incrementAndGet();
        long work = work(event);
        byte[] state = new byte[0];
        MessageDigest sha256 = sha256();
        for (long i = 0; i < work; i++) {
            sha256.update(state);
            sha256.update(BUF);
            state = sha256.digest();
        }
        Map<String, Object> response = new LinkedHashMap<>();
        response.put("runtime", "java");
        response.put("runtime_version", System.getProperty("java.version"));
        response.put("cold", invocation == 1
                && !"provisioned-concurrency".equals(INITIALIZATION_TYPE));
        response.put("instance_id", INSTANCE_ID);
        response.put("invocation", invocation);
        response.put("initialization_type", INITIALIZATION_TYPE);
        response.put("work", work);
        response.put("digest", HexFormat.of().formatHex(state));
        response.put("catalog_products", CATALOG.products().size());
        response.put("sdk_region", S3.serviceClientConfiguration().region().id());
        return response;
    }

    /** The event's ``work`` as a count of rounds; 0 when the event or the key is absent. */
    static long work(Map<String, Object> event) {
        Object value = event == null ? null : event.get("work");
        if (value == null) {
            return 0;
        }
        if (value instanceof Number number) {
            return number.longValue();
        }
        return Long.parseLong(value.toString().trim());
    }

    private static Catalog readCatalog() {
        try (InputStream in = Handler.class.getResourceAsStream("/catalog.json")) {
            if (in == null) {
                throw new IllegalStateException("catalog.json is not in the jar");
            }
            return JSON.readValue(in, Catalog.class);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String initializationType() {
        String value = System.getenv("AWS_LAMBDA_INITIALIZATION_TYPE");
        return value == null ? "on-demand" : value;
    }

    private static String randomHex(int bytes) {
        byte[] random = new byte[bytes];
        new SecureRandom().nextBytes(random);
        return HexFormat.of().formatHex(random);
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform provides SHA-256", e);
        }
    }
}
