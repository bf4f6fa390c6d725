package coldbench;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Validation case (functions/validation/README.md): the init of the function measured in
 * aws-powertools/powertools-lambda-java#121 as its baseline (2020-10-04, java11): a static
 * SLF4J logger (Logback, configured by symphonia's lambda-logging), and, in the handler's
 * constructor, a DynamoDB async client on the AWS CRT HTTP client. The measured function
 * then put an item in DynamoDB on each request; this one makes no request and answers with
 * the contract of functions/README.md. Source level Java 11, as the measured function.
 */
public class Handler implements RequestHandler<Map<String, Object>, Map<String, Object>> {

    private static final Logger LOG = LoggerFactory.getLogger(Handler.class);
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

    private final ClientService clientService;

    public Handler() {
        this.clientService = ClientService.create();
    }

    @Override
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        int invocation = INVOCATIONS.incrementAndGet();
        LOG.info("Input: {}", event);
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
        response.put("digest", hex(state));
        response.put("sdk_service", clientService.serviceName());
        return response;
    }

    /** The event's ``work`` as a count of rounds; 0 when the event or the key is absent. */
    static long work(Map<String, Object> event) {
        Object value = event == null ? null : event.get("work");
        if (value == null) {
            return 0;
        }
        if (value instanceof Number) {
            return ((Number) value).longValue();
        }
        return Long.parseLong(value.toString().trim());
    }

    private static String initializationType() {
        String value = System.getenv("AWS_LAMBDA_INITIALIZATION_TYPE");
        return value == null ? "on-demand" : value;
    }

    private static String randomHex(int bytes) {
        byte[] random = new byte[bytes];
        new SecureRandom().nextBytes(random);
        return hex(random);
    }

    private static String hex(byte[] bytes) {
        StringBuilder out = new StringBuilder(bytes.length * 2);
        for (byte b : bytes) {
            out.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
        }
        return out.toString();
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform provides SHA-256", e);
        }
    }
}
